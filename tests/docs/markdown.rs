//! Just enough Markdown for the documentation tests: fenced code blocks (with their info
//! strings and line numbers), links outside code, and the ids mdBook gives headings.

/// A fenced code block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The 1-based line of the opening fence.
    pub line: usize,
    /// The info string after the opening fence, trimmed (`sh`, `sh,no-run`, `rust,ignore`, ``).
    pub info: String,
    /// The lines between the fences, with the fence's indentation removed, each ending in `\n`.
    pub text: String,
}

/// An opening or closing fence: up to three spaces, then three or more backticks or tildes.
struct Fence {
    indent: usize,
    marker: char,
    len: usize,
    rest: String,
}

fn fence(line: &str) -> Option<Fence> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let trimmed = &line[indent..];
    let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == marker).count();
    if len < 3 {
        return None;
    }
    let rest = trimmed[len..].trim().to_owned();
    if marker == '`' && rest.contains('`') {
        return None;
    }
    Some(Fence { indent, marker, len, rest })
}

/// Every fenced code block of `markdown`, in order. An unclosed fence runs to the end.
pub fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(Fence, Block)> = None;
    for (index, line) in markdown.lines().enumerate() {
        match open.take() {
            None => {
                if let Some(opening) = fence(line) {
                    let block = Block { line: index + 1, info: opening.rest.clone(), text: String::new() };
                    open = Some((opening, block));
                }
            }
            Some((opening, mut block)) => match fence(line) {
                Some(closing)
                    if closing.marker == opening.marker && closing.len >= opening.len && closing.rest.is_empty() =>
                {
                    blocks.push(block);
                }
                _ => {
                    let strip = line.len() - line.trim_start_matches(' ').len();
                    block.text.push_str(&line[strip.min(opening.indent)..]);
                    block.text.push('\n');
                    open = Some((opening, block));
                }
            },
        }
    }
    if let Some((_, block)) = open {
        blocks.push(block);
    }
    blocks
}

/// `markdown` with every fenced block's lines (fences included) blanked, so that line numbers
/// stay as they were.
fn outside_blocks(markdown: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut open: Option<Fence> = None;
    for line in markdown.lines() {
        match open.take() {
            None => match fence(line) {
                Some(opening) => {
                    open = Some(opening);
                    lines.push(String::new());
                }
                None => lines.push(line.to_owned()),
            },
            Some(opening) => {
                match fence(line) {
                    Some(closing)
                        if closing.marker == opening.marker
                            && closing.len >= opening.len
                            && closing.rest.is_empty() => {}
                    _ => open = Some(opening),
                }
                lines.push(String::new());
            }
        }
    }
    lines
}

/// `line` with its inline code spans (`` `…` ``, ``` ``…`` ```) removed.
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + ticks..];
        let closing = "`".repeat(ticks);
        match after.find(&closing) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                out.push_str(&rest[start..]);
                return out;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A link found outside code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The 1-based line it is on.
    pub line: usize,
    /// Its destination, as written (`guides/curl.md#a-heading`, `http://localhost:8080/`).
    pub target: String,
}

/// The destinations of inline links and images (`[text](dest "title")`), of link reference
/// definitions (`[label]: dest`) and of autolinks (`<http://…>`), outside code.
pub fn links(markdown: &str) -> Vec<Link> {
    let mut found = Vec::new();
    for (index, raw) in outside_blocks(markdown).iter().enumerate() {
        let line = without_code_spans(raw);
        let number = index + 1;
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let mut depth = 0usize;
            let mut end = after.len();
            for (offset, ch) in after.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = offset;
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let inside = after[..end].trim();
            let target = match inside.strip_prefix('<') {
                Some(bracketed) => bracketed.split('>').next().unwrap_or_default(),
                None => inside.split_whitespace().next().unwrap_or_default(),
            };
            if !target.is_empty() {
                found.push(Link { line: number, target: target.to_owned() });
            }
            rest = &after[end.min(after.len())..];
        }
        let trimmed = line.trim_start();
        if let (true, Some(close)) = (trimmed.starts_with('['), trimmed.find("]:"))
            && !trimmed[..close].contains("](")
        {
            let target = trimmed[close + 2..].split_whitespace().next().unwrap_or_default();
            let target = target.trim_start_matches('<').trim_end_matches('>');
            if !target.is_empty() {
                found.push(Link { line: number, target: target.to_owned() });
            }
        }
        let mut rest = line.as_str();
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('>') else { break };
            let inside = &after[..end];
            if (inside.starts_with("http://") || inside.starts_with("https://") || inside.starts_with("mailto:"))
                && !inside.contains(' ')
            {
                found.push(Link { line: number, target: inside.to_owned() });
            }
            rest = &after[end + 1..];
        }
    }
    found
}

/// The id mdBook (and GitHub) gives a heading with this text: lower case, letters, digits,
/// `-` and `_` kept, spaces turned into `-`, everything else dropped.
pub fn heading_id(text: &str) -> String {
    text.chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                Some(ch.to_lowercase().next().unwrap_or(ch))
            } else if ch.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The ids of every ATX heading (`# …` to `###### …`) outside code, duplicates numbered as
/// mdBook numbers them (`id`, `id-1`, `id-2`, …).
pub fn heading_ids(markdown: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for line in outside_blocks(markdown) {
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if hashes == 0 || hashes > 6 || !trimmed[hashes..].starts_with(' ') {
            continue;
        }
        let text: String = trimmed[hashes..].trim().trim_end_matches('#').trim().replace('`', "");
        let text = text.replace(['*', '[', ']'], "");
        let base = heading_id(&text);
        let mut id = base.clone();
        let mut n = 0;
        while ids.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        ids.push(id);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fenced_blocks_with_their_info_and_line() {
        let markdown = "text\n```sh\necho one\n```\n\n  ~~~~ sh,no-run\n  cargo run\n  ```\n  ~~~~\n```\nplain\n```\n";
        let blocks = fenced_blocks(markdown);
        assert_eq!(
            blocks,
            vec![
                Block { line: 2, info: "sh".into(), text: "echo one\n".into() },
                Block { line: 6, info: "sh,no-run".into(), text: "cargo run\n```\n".into() },
                Block { line: 10, info: String::new(), text: "plain\n".into() },
            ]
        );
    }

    #[test]
    fn finds_links_outside_code_only() {
        let markdown = "See [a](a.md#x) and ![i](../i.png \"t\") and `[no](no.md)`.\n```md\n[no](no.md)\n```\n[ref]: <r.md>\n<http://localhost:8080/>";
        let targets: Vec<String> = links(markdown).into_iter().map(|link| link.target).collect();
        assert_eq!(targets, ["a.md#x", "../i.png", "r.md", "http://localhost:8080/"]);
    }

    #[test]
    fn heading_ids_follow_mdbook() {
        let markdown = "# CSRF: the `X-CSRF-Token` header\n## Two commands\n## Two commands\n```\n# not a heading\n```";
        assert_eq!(heading_ids(markdown), ["csrf-the-x-csrf-token-header", "two-commands", "two-commands-1"]);
    }
}
