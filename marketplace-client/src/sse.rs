//! Server-sent events: where one ends in a buffer, and its data.

/// Where the first event in `buffer` ends: the end of its text and of its blank line.
pub(crate) fn event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let normalised = |i: usize| -> Option<(usize, usize)> {
        if buffer[i..].starts_with(b"\n\n") {
            Some((i, i + 2))
        } else if buffer[i..].starts_with(b"\r\n\r\n") {
            Some((i, i + 4))
        } else {
            None
        }
    };
    (0..buffer.len()).find_map(normalised)
}

/// The `id` field of one event's text, if it has one.
pub(crate) fn id(event: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(event);
    text.lines()
        .filter_map(|line| line.strip_prefix("id:"))
        .map(|value| value.strip_prefix(' ').unwrap_or(value).to_owned())
        .next_back()
}

/// The data of one event's text: its `data:` lines joined by newlines (empty for a comment).
pub(crate) fn data(event: &[u8]) -> String {
    let text = String::from_utf8_lossy(event);
    let mut data = String::new();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_end_at_a_blank_line_in_either_line_ending() {
        assert_eq!(event_end(b"id: 1\ndata: {}\n\nrest"), Some((14, 16)));
        assert_eq!(event_end(b"data: {}\r\n\r\n"), Some((8, 12)));
        assert_eq!(event_end(b"data: {}\n"), None);
        assert_eq!(event_end(b":keep-alive\n\n"), Some((11, 13)));
    }

    #[test]
    fn data_lines_are_joined_and_comments_carry_none() {
        assert_eq!(
            data(b"id: 1\nevent: x\ndata: {\"a\":\ndata: 1}"),
            "{\"a\":\n1}"
        );
        assert_eq!(data(b":keep-alive"), "");
        assert_eq!(data(b"data:tight"), "tight");
        assert_eq!(id(b"id: 41\ndata: {}"), Some("41".into()));
        assert_eq!(id(b"id:7"), Some("7".into()));
        assert_eq!(id(b":keep-alive"), None);
    }
}
