//! The well-formedness check of the SVG plots, shared by the end-to-end tests
//! and the unit tests of the plot module (which include this file).

/// Checks that an SVG document is well-formed (every tag closed in order, no
/// `<` inside a tag, quotes balanced, no non-finite number) and returns the
/// element names in document order.
pub fn check_svg(svg: &str) -> Vec<String> {
    assert!(svg.contains("<svg"), "not an SVG document");
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed '<'") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        rest = &rest[end + 1..];
        if tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched closing tag"
            );
            continue;
        }
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in <{tag}>");
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        seen.push(name.clone());
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed tags {stack:?}");
    assert!(
        !svg.contains("NaN") && !svg.contains("inf"),
        "non-finite number in the SVG"
    );
    seen
}
