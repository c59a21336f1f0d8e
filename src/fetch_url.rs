//! Where keys may be fetched from: checked for `BLOG_OIDC_ISSUER` and `BLOG_OIDC_JWKS_URL` at
//! startup, and for the `jwks_uri` a discovery document names when it is fetched.

/// An issuer or JWKS address: `https://`, or `http://` to a loopback host only (a local
/// Keycloak, tests). Keys fetched in clear text from elsewhere could be swapped on the way.
/// The error is the reason, for the caller to prefix with what named the address.
pub(crate) fn check_fetch_url(url: &str) -> Result<(), String> {
    let host = |rest: &str| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
            None => host.split(':').next().unwrap_or_default().to_owned(),
        }
    };
    let ok = if let Some(rest) = url.strip_prefix("https://") {
        !host(rest).is_empty()
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = host(rest);
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    } else {
        false
    };
    if ok && !url.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!(
            "`{url}` must be an https:// URL (http:// only to localhost)"
        ))
    }
}
