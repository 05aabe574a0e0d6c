//! What the providers that speak plain HTTP through `reqwest` share (Vault, GitHub, GitLab,
//! Jenkins): path segments and connection failures.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::RemoteError;

/// Every byte but RFC 3986's unreserved characters is escaped, `/` included: a GitLab project
/// path or a GitHub environment name is one segment of the request's path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes one path segment.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A request that got no answer (refused, timed out, TLS), with every cause reqwest gives; the
/// code says which of a timeout and a connection failure it was.
/// reqwest's message names the URL, which holds names and never values: values travel only in
/// request bodies.
pub fn connect_error(error: &reqwest::Error, hint: &str) -> RemoteError {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    let code = if error.is_timeout() { "timeout" } else { "connect" };
    RemoteError::new(code, text).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn a_segment_escapes_all_but_unreserved_characters() {
        assert_eq!(segment("team/app"), "team%2Fapp");
        assert_eq!(segment("prod/eu west"), "prod%2Feu%20west");
        assert_eq!(segment("*"), "%2A");
        assert_eq!(segment("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
