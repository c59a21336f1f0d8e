//! A post's content as safe HTML (`content_html`): Markdown rendered as CommonMark, then cleaned
//! by an allow-list.
//!
//! Two steps, each doing one job:
//! 1. pulldown-cmark renders the Markdown (CommonMark, plus GFM tables and strikethrough). Raw
//!    HTML in the Markdown passes through this step as CommonMark requires, and so do link
//!    destinations such as `javascript:alert(1)`: this step makes no promise about safety.
//! 2. ammonia parses the result the way a browser does (html5ever), keeps only the allow-listed
//!    elements, attributes and URL schemes below, and writes a new document from the parse tree.
//!    Whatever the input's obfuscation (entities, mixed case, tabs or newlines inside a scheme,
//!    unclosed or misnested tags), what comes out is what the allow-list let through, serialised
//!    once, so a browser cannot read it differently.
//!
//! The allow-list:
//! - elements: what CommonMark produces, plus a few inline ones authors write by hand (`abbr`,
//!   `kbd`, `mark`, `sub`, `sup`, `details`...); no `script`, `style`, `iframe`, `object`,
//!   `embed`, `form`, `input`, `meta`, `link`, `base`, `svg` or `math`. The content of `script`,
//!   `style` and the like is dropped with them; other unknown elements are unwrapped (their text
//!   stays, escaped).
//! - attributes: `title` and `lang` anywhere; `href` on `a`; `src`, `alt`, `width`, `height` on
//!   `img`; `start` on `ol`; `colspan`, `rowspan` and the three `text-align` styles that tables
//!   get on `td`/`th`; `class="language-..."` on `code` (a fenced block's language). No `on*`
//!   event handler, no other `style`, no `id` or `class` that could collide with the page's own.
//! - URLs: `http`, `https`, `mailto` and relative ones; an attribute with any other scheme
//!   (`javascript:`, `vbscript:`, `data:`, ...) is removed.
//! - every link gets `rel="nofollow noopener"`: authors' links earn no ranking from the site, and
//!   a page opened from one cannot reach back through `window.opener`.
//!
//! Rendering costs time in proportion to the content; the store renders once per post version,
//! not per request.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{html, Options, Parser};

/// The elements `content_html` may contain.
const TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
    "var",
];

/// Elements removed together with everything inside them: their content is code, styling or
/// another document, never text meant for the reader.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "template", "iframe", "frame", "frameset", "object", "embed", "applet",
    "noscript", "noembed", "noframes", "svg", "math", "textarea", "select", "title", "xmp",
];

/// Attributes allowed on any element of [`TAGS`].
const GENERIC_ATTRIBUTES: &[&str] = &["title", "lang"];

/// Attributes allowed on one element.
const TAG_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href"]),
    ("img", &["src", "alt", "width", "height"]),
    ("ol", &["start"]),
    ("td", &["colspan", "rowspan"]),
    ("th", &["colspan", "rowspan"]),
    // Only `language-...`: see `keep_attribute`.
    ("code", &["class"]),
];

/// The only `style` values allowed: what pulldown-cmark writes for an aligned table column.
const CELL_STYLES: &[&str] = &[
    "text-align: left",
    "text-align: center",
    "text-align: right",
];

/// URL schemes allowed in `href` and `src`; relative URLs are allowed too.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// What every link gets.
pub const LINK_REL: &str = "nofollow noopener";

/// The sanitizer, configured once.
static SANITIZER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let cell_styles = || {
        let values: HashSet<&'static str> = CELL_STYLES.iter().copied().collect();
        HashMap::from([("style", values)])
    };
    let mut builder = Builder::empty();
    builder
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .tag_attributes(
            TAG_ATTRIBUTES
                .iter()
                .map(|(tag, attributes)| (*tag, attributes.iter().copied().collect()))
                .collect(),
        )
        .tag_attribute_values(HashMap::from([
            ("td", cell_styles()),
            ("th", cell_styles()),
        ]))
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        .url_relative(UrlRelative::PassThrough)
        .link_rel(Some(LINK_REL))
        .strip_comments(true)
        .id_prefix(None)
        .attribute_filter(keep_attribute);
    builder
});

/// Second look at an attribute the allow-list let through: a `class` only as a fenced code
/// block's language (`language-rust`), so content cannot borrow the page's own classes.
fn keep_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    if attribute != "class" {
        return Some(Cow::Borrowed(value));
    }
    let language = value.strip_prefix("language-")?;
    let valid = element == "code"
        && (1..=32).contains(&language.len())
        && language
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '#' | '.'));
    valid.then_some(Cow::Borrowed(value))
}

/// `markdown` rendered as CommonMark (with GFM tables and strikethrough) and cleaned by the
/// allow-list above: the HTML a browser may show as is.
pub fn content_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut rendered = String::with_capacity(markdown.len() + markdown.len() / 2);
    html::push_html(&mut rendered, Parser::new_ext(markdown, options));
    SANITIZER.clean(&rendered).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from the OWASP XSS filter evasion cheat sheet (and a few mutation-XSS classics),
    /// as raw HTML inside Markdown, each with what it tries.
    const OWASP_VECTORS: &[(&str, &str)] = &[
        (
            r#"<SCRIPT SRC=https://xss.rocks/xss.js></SCRIPT>"#,
            "external script",
        ),
        (r#"<script>alert('XSS')</script>"#, "inline script"),
        (
            r#"javascript:/*--></title></style></textarea></script></xmp><svg/onload='+/"/+/onmouseover=1/+/[*/[]/+alert(1)//'>"#,
            "polyglot",
        ),
        (
            r#"<IMG SRC="javascript:alert('XSS');">"#,
            "img javascript src",
        ),
        (r#"<IMG SRC=javascript:alert('XSS')>"#, "no quotes"),
        (r#"<IMG SRC=JaVaScRiPt:alert('XSS')>"#, "case"),
        (
            r#"<IMG SRC=javascript:alert(&quot;XSS&quot;)>"#,
            "html entities",
        ),
        (
            r#"<IMG SRC=`javascript:alert("RSnake says, 'XSS'")`>"#,
            "grave accents",
        ),
        (
            r#"<a onmouseover="alert(document.cookie)">xxs link</a>"#,
            "malformed a",
        ),
        (
            r#"<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\>"#,
            "malformed img",
        ),
        (r#"<IMG SRC=# onmouseover="alert('xxs')">"#, "onmouseover"),
        (
            r#"<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>"#,
            "onerror",
        ),
        (
            r#"<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">"#,
            "onerror with encoded payload",
        ),
        (
            r#"<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>"#,
            "decimal entities",
        ),
        (
            r#"<IMG SRC=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041>"#,
            "padded decimal entities without semicolons",
        ),
        (
            r#"<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>"#,
            "hex entities without semicolons",
        ),
        ("<IMG SRC=\"jav\tascript:alert('XSS');\">", "embedded tab"),
        (
            r#"<IMG SRC="jav&#x09;ascript:alert('XSS');">"#,
            "encoded tab",
        ),
        (
            r#"<IMG SRC="jav&#x0A;ascript:alert('XSS');">"#,
            "encoded newline",
        ),
        (
            r#"<IMG SRC="jav&#x0D;ascript:alert('XSS');">"#,
            "encoded carriage return",
        ),
        (
            r#"<IMG SRC=" &#14;  javascript:alert('XSS');">"#,
            "leading spaces and meta characters",
        ),
        (
            r#"<SCRIPT/XSS SRC="https://xss.rocks/xss.js"></SCRIPT>"#,
            "non-alpha after tag name",
        ),
        (
            r#"<BODY onload!#$%&()*~+-_.,:;?@[/|\]^`=alert("XSS")>"#,
            "odd handler name",
        ),
        (
            r#"<<SCRIPT>alert("XSS");//\<</SCRIPT>"#,
            "extraneous open brackets",
        ),
        (
            r#"<SCRIPT SRC=https://xss.rocks/xss.js?< B >"#,
            "no closing script tag",
        ),
        (r#"<IMG SRC="javascript:alert('XSS')""#, "half-open tag"),
        (
            r#"<iframe src=https://xss.rocks/scriptlet.html <"#,
            "double open angle",
        ),
        (r#"</TITLE><SCRIPT>alert("XSS");</SCRIPT>"#, "end title"),
        (
            r#"<INPUT TYPE="IMAGE" SRC="javascript:alert('XSS');">"#,
            "input image",
        ),
        (
            r#"<BODY BACKGROUND="javascript:alert('XSS')">"#,
            "body background",
        ),
        (r#"<IMG DYNSRC="javascript:alert('XSS')">"#, "img dynsrc"),
        (r#"<svg/onload=alert('XSS')>"#, "svg onload"),
        (
            r#"<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>"#,
            "svg xlink",
        ),
        (
            r#"<LINK REL="stylesheet" HREF="javascript:alert('XSS');">"#,
            "stylesheet link",
        ),
        (
            r#"<STYLE>@import'https://xss.rocks/xss.css';</STYLE>"#,
            "style import",
        ),
        (
            r#"<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert('XSS');">"#,
            "meta refresh",
        ),
        (
            r#"<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">"#,
            "meta refresh data",
        ),
        (
            r#"<IFRAME SRC="javascript:alert('XSS');"></IFRAME>"#,
            "iframe",
        ),
        (
            r#"<TABLE BACKGROUND="javascript:alert('XSS')">"#,
            "table background",
        ),
        (
            r#"<TABLE><TD BACKGROUND="javascript:alert('XSS')">"#,
            "td background",
        ),
        (
            r#"<DIV STYLE="background-image: url(javascript:alert('XSS'))">"#,
            "style url",
        ),
        (
            r#"<DIV STYLE="width: expression(alert('XSS'));">"#,
            "style expression",
        ),
        (
            r#"<IMG STYLE="xss:expr/*XSS*/ession(alert('XSS'))">"#,
            "style expression with comment",
        ),
        (
            r#"<TD STYLE="text-align: left; background: url(javascript:alert(1))">x</TD>"#,
            "style beside an allowed one",
        ),
        (
            r#"<OBJECT TYPE="text/x-scriptlet" DATA="https://xss.rocks/scriptlet.html"></OBJECT>"#,
            "object",
        ),
        (
            r#"<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciPjxzY3JpcHQ+YWxlcnQoMSk8L3NjcmlwdD48L3N2Zz4=" type="image/svg+xml" AllowScriptAccess="always"></EMBED>"#,
            "embed data",
        ),
        (
            r#"<form action="javascript:alert(1)"><input type=submit></form>"#,
            "form action",
        ),
        (
            r#"<button formaction="javascript:alert(1)">x</button>"#,
            "formaction",
        ),
        (r#"<BASE HREF="javascript:alert('XSS');//">"#, "base href"),
        (
            r#"<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>"#,
            "data link",
        ),
        (
            r#"<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">"#,
            "data image",
        ),
        (r#"<a href="vbscript:msgbox(1)">x</a>"#, "vbscript"),
        (
            r#"<a href="&#106;avascript:alert(1)">x</a>"#,
            "entity first letter",
        ),
        (
            r#"<a href="jAvAsCrIpT&colon;alert(1)">x</a>"#,
            "named colon entity",
        ),
        (
            r#"<a href="javascript&#58;alert(1)">x</a>"#,
            "decimal colon",
        ),
        (
            "<a href=\"java\nscript:alert(1)\">x</a>",
            "newline in scheme",
        ),
        (r#"<a href="  javascript:alert(1)">x</a>"#, "leading spaces"),
        (
            r#"<details open ontoggle=alert(1)>x</details>"#,
            "handler on an allowed element",
        ),
        (r#"<p onclick="alert(1)">x</p>"#, "onclick on p"),
        (r#"<img src="x" onerror  =  "alert(1)">"#, "spaces around ="),
        (
            r#"<img src=x:alert(alt) onerror=eval(src) alt=0>"#,
            "unknown scheme",
        ),
        (
            r#"<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"#,
            "mutation XSS (math)",
        ),
        (
            r#"<noscript><p title="</noscript><img src=x onerror=alert(1)>">"#,
            "mutation XSS (noscript)",
        ),
        (
            r#"<code class="x" onclick="alert(1)">c</code>"#,
            "class and handler on code",
        ),
        ("[x](javascript:alert(1))", "markdown link"),
        ("[x](JaVaScRiPt:alert(1))", "markdown link, case"),
        (
            "[x](<javascript:alert(1)>)",
            "markdown link, angle brackets",
        ),
        ("[x](javascript&#58;alert(1))", "markdown link, entity"),
        (
            "[x](java%0ascript:alert(1))",
            "markdown link, percent-encoded newline",
        ),
        (
            "[x][r]\n\n[r]: javascript:alert(1)",
            "markdown reference link",
        ),
        ("![x](javascript:alert(1))", "markdown image"),
        (
            "![x](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
            "markdown data image",
        ),
        ("<javascript:alert(1)>", "autolink"),
        ("<data:text/html,alert(1)>", "data autolink"),
        (
            r#"[x](https://example.com "a\" onmouseover=\"alert(1)")"#,
            "markdown title breakout",
        ),
    ];

    /// The tags of serialised HTML (`<...>`, outside quoted attribute values), as written.
    fn tags(html: &str) -> Vec<&str> {
        let mut tags = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let mut quoted = false;
            let mut end = None;
            for (i, c) in rest[start..].char_indices() {
                match c {
                    '"' => quoted = !quoted,
                    '>' if !quoted => {
                        end = Some(start + i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.expect("every tag is closed");
            tags.push(&rest[start..=end]);
            rest = &rest[end + 1..];
        }
        tags
    }

    /// `(name, attributes)` of one tag; attribute values with their entities decoded.
    fn parse_tag(tag: &str) -> (String, Vec<(String, String)>) {
        let inner = tag.trim_start_matches('<').trim_end_matches('>');
        let inner = inner.trim_start_matches('/');
        let name_end = inner
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        let mut attributes = Vec::new();
        let mut rest = inner[name_end..].trim_start();
        while !rest.is_empty() && rest != "/" {
            let name_end = rest
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(rest.len());
            let attribute = rest[..name_end].to_ascii_lowercase();
            rest = &rest[name_end..];
            let mut value = String::new();
            if let Some(after) = rest.strip_prefix("=\"") {
                let close = after.find('"').expect("values are closed");
                value = decode_entities(&after[..close]);
                rest = &after[close + 1..];
            }
            attributes.push((attribute, value));
            rest = rest.trim_start();
        }
        (name, attributes)
    }

    /// Decodes the entities an HTML serialiser writes, and numeric ones.
    fn decode_entities(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            rest = &rest[amp..];
            let Some(semi) = rest.find(';') else { break };
            let entity = &rest[1..semi];
            let decoded = match entity {
                "amp" => Some('&'),
                "quot" => Some('"'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "nbsp" => Some('\u{a0}'),
                "colon" => Some(':'),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            match decoded {
                Some(c) => {
                    out.push(c);
                    rest = &rest[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The scheme of `url` as the URL standard reads it (leading and trailing controls and spaces
    /// trimmed, tabs and newlines removed anywhere); `None` for a relative URL. A value such as
    /// `` `javascript:x `` has no scheme (a scheme starts with a letter): a browser resolves it as
    /// a path, so it is harmless even though it spells `javascript:`.
    fn scheme(url: &str) -> Option<String> {
        let url: String = url
            .trim_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect();
        let scheme = &url[..url.find(':')?];
        let mut chars = scheme.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        valid.then(|| scheme.to_ascii_lowercase())
    }

    /// Every tag is allow-listed and carries only allow-listed, harmless attributes.
    fn assert_safe(input: &str, reason: &str) {
        let html = content_html(input);
        let lower = html.to_ascii_lowercase();
        for tag in [
            "<script", "<iframe", "<object", "<embed", "<form", "<meta", "<style",
        ] {
            assert!(!lower.contains(tag), "{reason}: {tag} in {html}");
        }
        for tag in tags(&html) {
            let (name, attributes) = parse_tag(tag);
            assert!(
                TAGS.contains(&name.as_str()),
                "{reason}: <{name}> in {html}"
            );
            for (attribute, value) in attributes {
                assert!(
                    !attribute.starts_with("on"),
                    "{reason}: handler {attribute} in {html}"
                );
                let allowed = GENERIC_ATTRIBUTES.contains(&attribute.as_str())
                    || TAG_ATTRIBUTES.iter().any(|(tag, attributes)| {
                        *tag == name && attributes.contains(&attribute.as_str())
                    })
                    || (attribute == "rel" && name == "a" && value == LINK_REL)
                    || (attribute == "style"
                        && matches!(name.as_str(), "td" | "th")
                        && CELL_STYLES.contains(&value.as_str()));
                assert!(allowed, "{reason}: {attribute} on <{name}> in {html}");
                if matches!(attribute.as_str(), "href" | "src") {
                    let scheme = scheme(&value);
                    assert!(
                        scheme.as_deref().is_none_or(|s| URL_SCHEMES.contains(&s)),
                        "{reason}: {scheme:?} URL in {attribute} in {html}"
                    );
                }
                let squeezed = value.to_ascii_lowercase().replace(char::is_whitespace, "");
                for bad in ["javascript:", "vbscript:", "data:", "expression(", "url("] {
                    assert!(
                        !(squeezed.starts_with(bad)
                            || (attribute == "style" && squeezed.contains(bad))),
                        "{reason}: {bad} in {attribute} in {html}"
                    );
                }
                if attribute == "class" {
                    assert!(value.starts_with("language-"), "{reason}: class {value}");
                }
            }
        }
    }

    #[test]
    fn owasp_vectors_are_neutralised() {
        assert!(OWASP_VECTORS.len() >= 25);
        for (vector, reason) in OWASP_VECTORS {
            assert_safe(vector, reason);
            // The same inside a paragraph, and inside a Markdown list item.
            assert_safe(&format!("Hello {vector} world"), reason);
            assert_safe(&format!("- {vector}\n- after"), reason);
        }
    }

    #[test]
    fn dangerous_urls_lose_their_attribute_but_keep_the_text() {
        assert_eq!(
            content_html("[x](javascript:alert(1))"),
            "<p><a rel=\"nofollow noopener\">x</a></p>\n"
        );
        let image = content_html("![alt text](data:image/png;base64,AAAA)");
        assert!(image.contains("<img alt=\"alt text\">"), "{image}");
        let script = content_html("before <script>alert(1)</script> after");
        assert!(
            !script.contains("alert"),
            "script content is dropped: {script}"
        );
        assert!(
            script.contains("before") && script.contains("after"),
            "{script}"
        );
    }

    #[test]
    fn markdown_renders() {
        let html = content_html(
            "# Title\n\nSome *emphasis*, **strong** and ~~struck~~ text, `a<b` inline.\n\n\
             ## Second\n\n- one\n- two\n\n1. first\n2. second\n\n\
             > quoted\n\n---\n\n5 < 6 & 7\n",
        );
        for expected in [
            "<h1>Title</h1>",
            "<h2>Second</h2>",
            "<em>emphasis</em>",
            "<strong>strong</strong>",
            "<del>struck</del>",
            "<code>a&lt;b</code>",
            "<ul>\n<li>one</li>\n<li>two</li>\n</ul>",
            "<ol>\n<li>first</li>\n<li>second</li>\n</ol>",
            "<blockquote>\n<p>quoted</p>\n</blockquote>",
            "<hr>",
            "5 &lt; 6 &amp; 7",
        ] {
            assert!(html.contains(expected), "{expected} missing from {html}");
        }
    }

    #[test]
    fn code_blocks_keep_their_language_and_escape_their_text() {
        let html = content_html("```rust\nfn main() { println!(\"<hi>\"); }\n```\n");
        assert!(
            html.contains(
                "<pre><code class=\"language-rust\">fn main() { println!(\"&lt;hi&gt;\"); }"
            ),
            "{html}"
        );
        let forged = content_html("<code class=\"admin-only\">x</code>");
        assert!(!forged.contains("class"), "{forged}");
    }

    #[test]
    fn links_and_images() {
        let html = content_html(
            "[Rust](https://www.rust-lang.org/ \"The site\") [about](/about) \
             [mail](mailto:a@example.com) ![logo](https://example.com/logo.png)\n",
        );
        for expected in [
            "<a href=\"https://www.rust-lang.org/\" title=\"The site\" rel=\"nofollow noopener\">Rust</a>",
            "<a href=\"/about\" rel=\"nofollow noopener\">about</a>",
            "<a href=\"mailto:a@example.com\" rel=\"nofollow noopener\">mail</a>",
            "<img src=\"https://example.com/logo.png\" alt=\"logo\">",
        ] {
            assert!(html.contains(expected), "{expected} missing from {html}");
        }
        let autolink = content_html("<https://example.com/x>");
        assert!(
            autolink.contains("<a href=\"https://example.com/x\" rel=\"nofollow noopener\">https://example.com/x</a>"),
            "{autolink}"
        );
    }

    #[test]
    fn tables_keep_their_alignment() {
        let html = content_html("| a | b |\n|:--|--:|\n| 1 | 2 |\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(
            html.contains("<th style=\"text-align: left\">a</th>"),
            "{html}"
        );
        assert!(
            html.contains("<td style=\"text-align: right\">2</td>"),
            "{html}"
        );
    }
}
