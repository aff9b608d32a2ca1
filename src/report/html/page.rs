//! Putting text into the page safely: HTML escaping for what the server writes into the
//! markup, JSON blocks that no value can break out of, and the template's placeholders.

/// Text for HTML element content or a quoted attribute value: a name or description
/// from the experiment file can hold markup, which must show as text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a `<script type="application/json">` block. The HTML parser ends a script at
/// `</script` whatever the JSON says, and `<!--` changes how it reads on; `<`, `>` and `&`
/// appear in JSON only inside strings, where `\u003c` means the same, so escaping them
/// everywhere keeps any value inside the block. U+2028 and U+2029 are escaped too, for
/// readers that take the block as JavaScript.
pub fn json_block(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{name}}` of `template` with its value, in one pass over the template
/// only, so that a value holding `{{...}}` (a script, a description) is never expanded.
/// An unknown placeholder is left as it is.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let extra: usize = values.iter().map(|(_, v)| v.len()).sum();
    let mut out = String::with_capacity(template.len() + extra);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let value = after.find("}}").and_then(|end| {
            let name = &after[..end];
            let value = values.iter().find(|(k, _)| *k == name)?.1;
            Some((value, end))
        });
        match value {
            Some((value, end)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A vendored script without its last `//# sourceMappingURL=` line: the map is not
/// shipped, and a browser's developer tools would try to load it.
pub fn without_source_map(script: &str) -> &str {
    let trimmed = script.trim_end();
    match trimmed.rfind('\n') {
        Some(i) if trimmed[i + 1..].starts_with("//# sourceMappingURL=") => &trimmed[..i + 1],
        _ => script,
    }
}

/// A command line as a shell would take it back: words with anything but safe characters
/// in single quotes.
pub fn shell_words(args: &[String]) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    args.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(safe) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_shows_as_text() {
        assert_eq!(
            escape(r#"</script><script>x="1" & 'y'</script>"#),
            "&lt;/script&gt;&lt;script&gt;x=&quot;1&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("plain – ünïcode"), "plain – ünïcode");
    }

    #[test]
    fn json_blocks_cannot_end_their_script() {
        let value = serde_json::json!({"d": "</script><script>window.__pwned=1</script><!-- & \u{2028}\u{2029}"});
        let block = json_block(&value.to_string());
        for bad in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
            assert!(!block.contains(bad), "{bad:?} in {block}");
        }
        let back: serde_json::Value = serde_json::from_str(&block).unwrap();
        assert_eq!(back, value, "the escapes mean the same JSON");
    }

    #[test]
    fn placeholders_are_filled_once() {
        let page = fill(
            "<title>{{title}}</title>{{body}}{{unknown}}{{",
            &[("title", "{{body}}"), ("body", "b")],
        );
        assert_eq!(page, "<title>{{body}}</title>b{{unknown}}{{");
    }

    #[test]
    fn source_map_lines_are_dropped() {
        assert_eq!(
            without_source_map("a();\n//# sourceMappingURL=a.min.js.map\n"),
            "a();\n"
        );
        assert_eq!(without_source_map("a();\n"), "a();\n");
    }

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let args = ["runner", "--set", "train.epochs=2", "my exp.toml", "it's"];
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            shell_words(&args),
            r#"runner --set train.epochs=2 'my exp.toml' 'it'\''s'"#
        );
    }
}
