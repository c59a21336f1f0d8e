//! `/feed.atom`: the newest published posts as an Atom 1.0 feed (RFC 4287), and its `ETag`.
//!
//! This module holds the pure parts: [`atom`] writes the document from [`FeedEntry`]s, [`etag`]
//! names a body (`If-None-Match` is answered by [`none_match`]). The handler picks the posts (the 20
//! newest public ones, narrowed by `?author=` and `?tag=`), calls these, and answers
//! `application/atom+xml` or 304.
//!
//! What the feed says:
//! - feed: `id` is the feed's own URL (a filtered feed is another feed), `title`, `updated`,
//!   `link rel="self"` (the feed) and `rel="alternate"` (the site), `generator`.
//! - entry: `id` is `urn:uuid:` and the post id (it survives a change of title and slug),
//!   `title`, `link rel="alternate"` to the post, `author` (the username), `published`,
//!   `updated` (the later of the last edit and the publication: a scheduled post is news when it
//!   appears), `summary` (the description, or the start of the text) and `content type="html"`
//!   (the sanitised `content_html`, escaped as XML text, as `type="html"` requires).
//!
//! Characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE, U+FFFF) are dropped: a
//! post's text may hold them, and one would make the whole feed unreadable.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use atom_syndication::{Content, Entry, Feed, Generator, Link, Person, Text};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::{PostId, Timestamp};
use crate::error::{ApiResult, FieldErrors};
use crate::http::none_match;
use crate::routes::posts::{author_and_tag, RenderedHtml};
use crate::store::{Listing, PostQuery, Store};

/// Entries in the feed: the newest published posts.
pub const ENTRIES: usize = 20;

/// The blog's public address, for the feed's links (`BLOG_PUBLIC_URL`, or the address bound).
#[derive(Debug, Clone)]
pub struct SiteUrl(pub String);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/feed.atom", "GET").get(feed));
}

/// Query of `GET /feed.atom`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Only posts by this username.
    #[param(pattern = "^[A-Za-z0-9_-]{3,32}$")]
    pub author: Option<String>,
    /// Only posts with this tag.
    #[param(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub tag: Option<String>,
}

/// The 20 newest published posts as an Atom 1.0 feed (RFC 4287), narrowed by `author` and
/// `tag`; drafts and scheduled posts never appear. Each entry carries the post's sanitised HTML.
/// `ETag` on every answer; `If-None-Match` with the current one gets 304, so feed readers that
/// poll cost almost nothing.
#[utoipa::path(
    get, path = "/feed.atom", tag = "posts",
    params(FeedParams),
    responses(
        (status = 200, description = "The feed", content_type = "application/atom+xml", body = String,
            headers(("ETag" = String, description = "Names this version of the feed"))),
        (status = 304, description = "Not modified since the ETag given in If-None-Match"),
        (status = 422, description = "Bad query parameter", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn feed(
    req: HttpRequest,
    params: web::Query<FeedParams>,
    store: web::Data<Store>,
    html: web::Data<RenderedHtml>,
    site: web::Data<SiteUrl>,
) -> ApiResult<HttpResponse> {
    let params = params.into_inner();
    let mut errors = FieldErrors::new();
    let (author, tag) =
        author_and_tag(params.author.as_deref(), params.tag.as_deref(), &mut errors);
    errors.into_result()?;
    let mut title = String::from("blog-api");
    if let Some(author) = &author {
        let _ = write!(title, ": posts by {}", author.as_str());
    }
    if let Some(tag) = &tag {
        let _ = write!(title, " tagged {}", tag.as_str());
    }
    let page = store
        .list_posts(&PostQuery {
            author,
            tag,
            after: None,
            limit: ENTRIES,
            listing: Listing::Public,
            viewer: None,
        })
        .await?;
    let entries: Vec<FeedEntry> = page
        .posts
        .into_iter()
        .map(|post| {
            let view = html.view(post);
            FeedEntry {
                id: view.id,
                title: view.title.as_str().to_owned(),
                slug: view.slug.as_str().to_owned(),
                author_username: view.author.username.as_str().to_owned(),
                description: view.description.map(|d| d.as_str().to_owned()),
                content_html: view.content_html,
                published_at: view.published_at.unwrap_or(view.created_at),
                updated_at: view.updated_at,
            }
        })
        .collect();
    let updated = entries
        .iter()
        .map(|entry| entry.updated_at.max(entry.published_at))
        .max()
        .unwrap_or(chrono::DateTime::UNIX_EPOCH);
    let self_url = format!("{}{}", site.0, req.uri());
    let body = atom(
        &entries,
        &self_url,
        &format!("{}/api/v1", site.0),
        &title,
        updated,
    );
    let tag = etag(&body);
    if none_match(&req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/atom+xml; charset=utf-8")
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(body))
}

/// Longest summary taken from a post's text when it has no description, in characters.
pub const SUMMARY_CHARS: usize = 200;

/// One post as the feed shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub id: PostId,
    pub title: String,
    pub slug: String,
    pub author_username: String,
    pub description: Option<String>,
    /// The sanitised HTML of the content (`crate::render::content_html`). Shared, not copied,
    /// out of the rendered-HTML cache.
    pub content_html: Arc<str>,
    pub published_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The URL of a post under `site_url`: `{site_url}/posts/{slug}`, the slug percent-encoded
/// (slugs may hold any letter; a feed reader may not take an IRI). With `site_url` the API's
/// base (`https://host/api/v1`) it is the post's JSON; with a front end's base, its page.
pub fn post_url(site_url: &str, slug: &str) -> String {
    let mut url = format!("{}/posts/", site_url.trim_end_matches('/'));
    for byte in slug.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(byte));
        } else {
            let _ = write!(url, "%{byte:02X}");
        }
    }
    url
}

/// The Atom document for `posts`, in the order given (newest first, by the caller). `self_url`
/// is the URL the feed was fetched at (with its query), `site_url` the blog's, `updated` when
/// the feed last changed (the newest entry's `updated`, or any fixed time for an empty feed).
pub fn atom(
    posts: &[FeedEntry],
    self_url: &str,
    site_url: &str,
    title: &str,
    updated: Timestamp,
) -> String {
    let feed = Feed {
        id: xml_text(self_url).into_owned(),
        title: Text::plain(xml_text(title)),
        updated: updated.fixed_offset(),
        links: vec![
            Link {
                href: self_url.to_owned(),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Link::default()
            },
            Link {
                href: site_url.to_owned(),
                rel: "alternate".into(),
                ..Link::default()
            },
        ],
        generator: Some(Generator {
            value: "blog-api".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        entries: posts.iter().map(|post| entry(post, site_url)).collect(),
        ..Feed::default()
    };
    let bytes = feed
        .write_to(Vec::new())
        .expect("writing XML into memory does not fail");
    String::from_utf8(bytes).expect("the XML writer writes UTF-8")
}

fn entry(post: &FeedEntry, site_url: &str) -> Entry {
    let summary = match &post.description {
        Some(description) => xml_text(description).into_owned(),
        None => excerpt(&text_of_html(&post.content_html), SUMMARY_CHARS),
    };
    Entry {
        id: format!("urn:uuid:{}", post.id),
        title: Text::plain(xml_text(&post.title)),
        links: vec![Link {
            href: post_url(site_url, &post.slug),
            rel: "alternate".into(),
            ..Link::default()
        }],
        authors: vec![Person {
            name: xml_text(&post.author_username).into_owned(),
            ..Person::default()
        }],
        published: Some(post.published_at.fixed_offset()),
        updated: post.updated_at.max(post.published_at).fixed_offset(),
        summary: Some(Text::plain(summary)),
        content: Some(Content {
            value: Some(xml_text(&post.content_html).into_owned()),
            content_type: Some("html".into()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// `text` without the characters XML 1.0 does not allow (C0 controls other than tab, newline
/// and carriage return; U+FFFE and U+FFFF). Escaping cannot save them: `&#1;` is invalid too.
fn xml_text(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|c| allowed(*c)).collect())
    }
}

/// The start of the text of HTML written by the sanitiser: tags dropped, the entities it
/// writes decoded, whitespace collapsed. Block elements are separated by newlines in what
/// pulldown-cmark writes, so paragraphs do not run into each other.
fn text_of_html(html: &str) -> String {
    let mut text = String::with_capacity(html.len().min(4 * SUMMARY_CHARS));
    let mut in_tag = false;
    let mut quote = None;
    for c in html.chars() {
        // A summary needs the start of the text only; stop well past it.
        if text.len() >= 16 * SUMMARY_CHARS {
            break;
        }
        match (in_tag, quote, c) {
            (false, _, '<') => in_tag = true,
            (false, _, c) => text.push(c),
            (true, None, '>') => in_tag = false,
            (true, None, '"' | '\'') => quote = Some(c),
            (true, Some(q), c) if c == q => quote = None,
            (true, _, _) => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    xml_text(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max` characters of `text`, cut at a word boundary when there is one in the second
/// half, with an ellipsis when cut.
fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if cut[..space].chars().count() >= max / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

/// A strong `ETag` for a response body: its SHA-256 digest, base64url, quoted.
pub fn etag(body: &str) -> String {
    format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(Sha256::digest(body.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use feed_rs::model::{Entry as ParsedEntry, FeedType};

    use super::*;

    const SELF_URL: &str = "https://blog.example/feed.atom?author=alice&tag=rust";
    const SITE_URL: &str = "https://blog.example/api/v1";

    fn at(millis: i64) -> Timestamp {
        DateTime::from_timestamp_millis(millis).unwrap()
    }

    fn entries() -> Vec<FeedEntry> {
        vec![
            FeedEntry {
                id: PostId::new(),
                title: "Tips & <tricks> for \"Rust\"".into(),
                slug: "tips-tricks-for-rust".into(),
                author_username: "alice".into(),
                description: Some("Short & sweet".into()),
                content_html: "<h1>Tips</h1>\n<p>Use <code>&lt;T&gt;</code> &amp; more.</p>\n"
                    .into(),
                published_at: at(1_795_428_000_123),
                updated_at: at(1_795_428_600_456),
            },
            FeedEntry {
                id: PostId::new(),
                title: "Ça va".into(),
                slug: "ça-va".into(),
                author_username: "bob".into(),
                description: None,
                content_html: format!(
                    "<p>{}</p>\n<p>second\u{1} paragraph</p>\n",
                    "word ".repeat(60)
                )
                .into(),
                published_at: at(1_795_000_000_000),
                updated_at: at(1_795_000_000_000),
            },
            FeedEntry {
                // Scheduled: written before it went out.
                id: PostId::new(),
                title: "Later".into(),
                slug: "later".into(),
                author_username: "alice".into(),
                description: None,
                content_html: "<p>Short.</p>\n".into(),
                published_at: at(1_794_000_000_000),
                updated_at: at(1_793_000_000_000),
            },
        ]
    }

    fn parse(xml: &str) -> feed_rs::model::Feed {
        feed_rs::parser::parse(xml.as_bytes()).expect("a feed parser reads it")
    }

    fn link<'a>(links: &'a [feed_rs::model::Link], rel: &str) -> &'a str {
        &links
            .iter()
            .find(|link| link.rel.as_deref() == Some(rel))
            .unwrap_or_else(|| panic!("no {rel} link"))
            .href
    }

    #[test]
    fn a_feed_reader_reads_every_field() {
        let posts = entries();
        let updated = at(1_795_428_600_456);
        let xml = atom(&posts, SELF_URL, SITE_URL, "Alice's <blog>", updated);
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(xml.contains("xmlns=\"http://www.w3.org/2005/Atom\""));

        let feed = parse(&xml);
        assert_eq!(feed.feed_type, FeedType::Atom);
        assert_eq!(feed.id, SELF_URL);
        assert_eq!(feed.title.unwrap().content, "Alice's <blog>");
        assert_eq!(feed.updated, Some(updated));
        assert_eq!(link(&feed.links, "self"), SELF_URL);
        assert_eq!(link(&feed.links, "alternate"), SITE_URL);
        let generator = feed.generator.expect("a generator");
        assert_eq!(generator.content, "blog-api");
        assert_eq!(
            generator.version.as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );

        assert_eq!(feed.entries.len(), posts.len());
        for (parsed, post) in feed.entries.iter().zip(&posts) {
            check_entry(parsed, post);
        }

        let [with_description, without, scheduled] = &feed.entries[..] else {
            panic!("three entries");
        };
        assert_eq!(
            with_description.summary.as_ref().unwrap().content,
            "Short & sweet"
        );
        // No description: the start of the text, cut at a word, controls dropped.
        let summary = &without.summary.as_ref().unwrap().content;
        assert!(summary.starts_with("word word"), "{summary}");
        assert!(summary.ends_with('…'), "{summary}");
        assert!(summary.chars().count() <= SUMMARY_CHARS, "{summary}");
        assert!(!summary.contains('<'), "{summary}");
        assert!(!without
            .content
            .as_ref()
            .unwrap()
            .body
            .as_ref()
            .unwrap()
            .contains('\u{1}'));
        assert_eq!(
            link(&without.links, "alternate"),
            format!("{SITE_URL}/posts/%C3%A7a-va")
        );
        // A scheduled post is updated when it appears.
        assert_eq!(scheduled.updated, Some(at(1_794_000_000_000)));
        assert_eq!(scheduled.summary.as_ref().unwrap().content, "Short.");
    }

    fn check_entry(parsed: &ParsedEntry, post: &FeedEntry) {
        assert_eq!(parsed.id, format!("urn:uuid:{}", post.id));
        assert_eq!(parsed.title.as_ref().unwrap().content, post.title);
        assert_eq!(
            link(&parsed.links, "alternate"),
            post_url(SITE_URL, &post.slug)
        );
        assert_eq!(parsed.authors.len(), 1);
        assert_eq!(
            parsed.authors[0].name.as_deref(),
            Some(post.author_username.as_str())
        );
        assert_eq!(parsed.published, Some(post.published_at));
        assert_eq!(parsed.updated, Some(post.updated_at.max(post.published_at)));
        let summary = parsed.summary.as_ref().expect("a summary");
        assert_eq!(summary.content_type.as_str(), "text/plain");
        assert!(!summary.content.is_empty());
        let content = parsed.content.as_ref().expect("content");
        assert_eq!(content.content_type.as_str(), "text/html");
        let expected: String = post
            .content_html
            .chars()
            .filter(|c| *c != '\u{1}')
            .collect();
        assert_eq!(content.body.as_deref(), Some(expected.trim()));
    }

    #[test]
    fn an_empty_feed_is_a_feed() {
        let xml = atom(&[], SELF_URL, SITE_URL, "Nothing yet", at(0));
        let feed = parse(&xml);
        assert_eq!(feed.id, SELF_URL);
        assert!(feed.entries.is_empty());
        assert_eq!(feed.updated, Some(at(0)));
    }

    #[test]
    fn html_is_escaped_not_embedded() {
        let mut posts = entries();
        posts.truncate(1);
        let xml = atom(&posts, SELF_URL, SITE_URL, "Blog", at(0));
        // Inside <content type="html"> the markup is text: no raw <h1> element in the XML.
        assert!(!xml.contains("<h1>"), "{xml}");
        assert!(xml.contains("&lt;h1&gt;Tips&lt;/h1&gt;"), "{xml}");
        assert!(xml.contains("<content type=\"html\">"), "{xml}");
    }

    #[test]
    fn excerpts_and_text() {
        assert_eq!(
            text_of_html("<p>a &amp; b</p>\n<p title=\"x>y\">c&lt;d</p>\n"),
            "a & b c<d"
        );
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("one two three four", 12), "one two…");
        assert_eq!(excerpt("abcdefghijklmnop", 8), "abcdefg…");
        assert_eq!(excerpt(&"é".repeat(300), 200).chars().count(), 200);
    }

    #[test]
    fn etags_are_strong_and_follow_the_body() {
        let first = etag("<feed/>");
        assert!(first.starts_with('"') && first.ends_with('"'), "{first}");
        assert!(!first.starts_with("W/"));
        assert_eq!(first, etag("<feed/>"));
        assert_ne!(first, etag("<feed />"));
        assert_eq!(first.len(), 2 + 43, "base64url of 32 bytes, quoted");
    }
}
