//! Post fields.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

/// Deserialises text straight into an `Arc<str>`: one allocation and one copy, where serde's own
/// impl builds a `String` first and copies it again (it showed when loading a large snapshot).
fn shared_str<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Arc<str>, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Arc<str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Arc<str>, E> {
            Ok(Arc::from(text))
        }
    }
    deserializer.deserialize_str(Text)
}

/// Trimmed text of at most `max` characters. The limit applies to the input as sent, so it is
/// the limit the OpenAPI schema states (`maxLength`).
fn text(input: &str, max: usize, what: &str) -> Result<String, String> {
    if input.chars().count() > max {
        return Err(format!("{what} must be at most {max} characters long"));
    }
    if input.contains('\0') {
        return Err(format!("{what} must not contain NUL characters"));
    }
    let value = input.trim();
    if value.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    Ok(value.to_owned())
}

/// A title: 1-200 characters, trimmed, on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
// Text is behind an `Arc<str>`: reading a post out of the store for a response is then a
// reference count, not a copy of up to 100,000 characters.
pub struct PostTitle(#[serde(deserialize_with = "shared_str")] Arc<str>);

impl PostTitle {
    pub const MAX_CHARS: usize = 200;

    /// A title the store holds (checked when it was given), without checking it again.
    pub fn from_stored(title: &str) -> Self {
        Self(title.into())
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        let title = text(input, Self::MAX_CHARS, "title")?;
        if title.chars().any(char::is_control) {
            return Err("title must be one line without control characters".into());
        }
        Ok(Self(title.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The body of a post (Markdown or whatever the frontend renders): 1-100,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PostContent(#[serde(deserialize_with = "shared_str")] Arc<str>);

impl PostContent {
    pub const MAX_CHARS: usize = 100_000;

    /// A content the store holds (checked when it was given), without checking it again.
    pub fn from_stored(content: &str) -> Self {
        Self(content.into())
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        // Content keeps its inner and trailing whitespace (Markdown cares); it only must not be blank.
        if input.contains('\0') {
            return Err("content must not contain NUL characters".into());
        }
        if input.trim().is_empty() {
            return Err("content must not be empty".into());
        }
        if input.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "content must be at most {} characters long",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(input.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short summary: up to 500 characters. Blank means "no description".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PostDescription(#[serde(deserialize_with = "shared_str")] Arc<str>);

impl PostDescription {
    pub const MAX_CHARS: usize = 500;

    /// A description the store holds (checked when it was given), without checking it again.
    pub fn from_stored(description: &str) -> Self {
        Self(description.into())
    }

    /// `Ok(None)` for a blank description.
    pub fn parse(input: &str) -> Result<Option<Self>, String> {
        if input.trim().is_empty() {
            return Ok(None);
        }
        text(input, Self::MAX_CHARS, "description").map(|d| Some(Self(d.into())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One tag: 1-32 characters of `a-z 0-9 _ -`, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
// Behind an `Arc<str>`: the store keeps one copy of each tag's text for all the posts that carry
// it (it hands the index's copy to every new post), not one per post.
pub struct Tag(#[serde(deserialize_with = "shared_str")] Arc<str>);

impl Tag {
    /// The rule the OpenAPI schema states.
    pub const PATTERN: &'static str = "^[A-Za-z0-9_-]{1,32}$";

    /// A tag as the store saved it (already valid).
    pub fn from_stored(tag: &str) -> Self {
        Self(tag.into())
    }

    /// ASCII letters, digits, `_` and `-`, lower-cased. Not trimmed: a tag with spaces around it is
    /// refused rather than silently changed.
    pub fn parse(input: &str) -> Result<Self, String> {
        if !(1..=32).contains(&input.chars().count()) {
            return Err(format!("tag `{input}` must be 1 to 32 characters long"));
        }
        if !input
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "tag `{input}` may contain only letters a-z, digits, '_' and '-'"
            ));
        }
        Ok(Self(input.to_ascii_lowercase().into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A post's tags: lower-case, sorted, de-duplicated, at most 10. A sorted shared slice: a post
/// with two tags holds two pointers, not a B-tree node of eleven slots; copying the list for a
/// response is a reference count, and posts with the same tags can share one list (loading a
/// snapshot does that).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Tags(Arc<[Tag]>);

impl<'de> Deserialize<'de> for Tags {
    /// Sorted and de-duplicated whatever the order stored.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from_tags(Vec::<Tag>::deserialize(deserializer)?))
    }
}

impl Tags {
    pub const MAX: usize = 10;

    /// At most [`Tags::MAX`] sent (duplicates count: the limit is on the request, as the
    /// schema's `maxItems` states), each a valid [`Tag`].
    pub fn parse<S: AsRef<str>>(inputs: &[S]) -> Result<Self, String> {
        if inputs.len() > Self::MAX {
            return Err(format!("at most {} tags are allowed", Self::MAX));
        }
        let tags = inputs
            .iter()
            .map(|input| Tag::parse(input.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_tags(tags))
    }

    /// Tags as the store saved them (already valid), in any order.
    pub fn from_stored(tags: Vec<Tag>) -> Self {
        Self::from_tags(tags)
    }

    fn from_tags(mut tags: Vec<Tag>) -> Self {
        tags.sort_unstable();
        tags.dedup();
        Self(tags.into())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    pub fn contains(&self, tag: &Tag) -> bool {
        self.0.binary_search(tag).is_ok()
    }

    /// Each tag replaced by an equal one from `existing`, where it has one: shares its text.
    pub fn share_with(&mut self, mut existing: impl FnMut(&Tag) -> Option<Tag>) {
        for tag in Arc::make_mut(&mut self.0).iter_mut() {
            if let Some(shared) = existing(tag) {
                *tag = shared;
            }
        }
    }
}

/// Whether a post is out: a draft is seen only by its author (and admins).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    Draft,
    /// Public from its `published_at` on (a future time schedules it).
    #[default]
    Published,
}

impl PostStatus {
    pub fn parse(input: &str) -> Result<Self, String> {
        match input {
            "draft" => Ok(Self::Draft),
            "published" => Ok(Self::Published),
            _ => Err("status must be `draft` or `published`".into()),
        }
    }
}

/// The URL form of a title: lower-case words joined by `-`. Unique across posts (the store adds
/// `-2`, `-3`... on collision).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
// Behind an `Arc<str>`: the post and the slug index share one copy.
pub struct Slug(#[serde(deserialize_with = "shared_str")] Arc<str>);

impl Slug {
    const MAX_CHARS: usize = 80;

    /// The slug a title asks for, before uniqueness.
    pub fn from_title(title: &str) -> Self {
        let mut slug = String::new();
        for c in title.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let mut slug: String = slug.chars().take(Self::MAX_CHARS).collect();
        while slug.ends_with('-') {
            slug.pop();
        }
        if slug.is_empty() {
            slug.push_str("post");
        }
        Self(slug.into())
    }

    /// A slug as given in a URL, for lookup only.
    pub fn from_stored(slug: &str) -> Self {
        Self(slug.into())
    }

    /// This slug with a numeric suffix, for the `n`th post that wants it.
    pub fn with_suffix(&self, n: u32) -> Self {
        Self(format!("{}-{n}", self.0).into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A comment's text: 1-10,000 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommentBody(#[serde(deserialize_with = "shared_str")] Arc<str>);

impl CommentBody {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(input: &str) -> Result<Self, String> {
        text(input, Self::MAX_CHARS, "body").map(|body| Self(body.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(title: &str) -> String {
        Slug::from_title(PostTitle::parse(title).unwrap().as_str())
            .as_str()
            .to_owned()
    }

    #[test]
    fn slugs_follow_titles() {
        assert_eq!(slug("Hello, World!"), "hello-world");
        assert_eq!(slug("  Rust   2024: what's new? "), "rust-2024-what-s-new");
        assert_eq!(slug("Ça va"), "ça-va");
        assert_eq!(slug("!!!"), "post");
        assert_eq!(slug(&"ab ".repeat(60)).chars().count(), 80);
        assert!(!slug(&"ab ".repeat(60)).ends_with('-'));
    }

    #[test]
    fn tags_are_lowercased_sorted_and_deduplicated() {
        let tags = Tags::parse(&["Rust", "web", "rust", "API"]).unwrap();
        let names: Vec<_> = tags.iter().map(Tag::as_str).collect();
        assert_eq!(names, ["api", "rust", "web"]);
    }

    #[test]
    fn bad_tags() {
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        let long = "x".repeat(33);
        let cases: [(&[&str], &str); 6] = [
            (&[""], "empty tag"),
            (&["two words"], "space"),
            (&["c++"], "punctuation"),
            (&[" api"], "surrounding space"),
            (&["ünï"], "non-ascii"),
            (&[long.as_str()], "too long"),
        ];
        for (tags, reason) in cases {
            assert!(Tags::parse(tags).is_err(), "{reason}");
        }
        assert!(Tags::parse(&eleven).is_err(), "more than 10");
        assert!(
            Tags::parse(&["rust"; 11]).is_err(),
            "more than 10 sent, even if the same"
        );
    }

    #[test]
    fn titles_content_and_descriptions() {
        assert!(PostTitle::parse("   ").is_err());
        assert!(PostTitle::parse("a\nb").is_err());
        assert!(PostTitle::parse(&"t".repeat(201)).is_err());
        let padded = format!("t{}", " ".repeat(200));
        assert!(
            PostTitle::parse(&padded).is_err(),
            "the limit applies before trimming"
        );
        assert_eq!(PostTitle::parse("  Hi ").unwrap().as_str(), "Hi");
        assert!(PostContent::parse(" \n ").is_err());
        assert_eq!(PostContent::parse("# Hi\n").unwrap().as_str(), "# Hi\n");
        assert_eq!(PostDescription::parse("  ").unwrap(), None);
        assert!(PostDescription::parse(&"d".repeat(501)).is_err());
    }
}
