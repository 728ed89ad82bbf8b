//! Server-Sent Events as the API sends them (`id:`, `event:`, `data:` lines, frames ended
//! by a blank line, `:` comments as keep-alives): one reader for everything here that
//! watches a run (`skein run --watch`, `skein bench events`, the tests).

/// One event frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Collects a stream's text and hands back its whole frames.
#[derive(Debug, Default)]
pub struct FrameReader {
    buffer: String,
}

impl FrameReader {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.push_str(&String::from_utf8_lossy(chunk));
    }

    /// The next whole event frame received so far; comments are skipped.
    pub fn next_frame(&mut self) -> Option<Frame> {
        while let Some(end) = self.buffer.find("\n\n") {
            let text: String = self.buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim_start().to_string())
            };
            let data: String = text
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim)
                .collect();
            let frame = Frame {
                id: field("id:"),
                event: field("event:"),
                data,
            };
            if frame.id.is_some() || frame.event.is_some() || !frame.data.is_empty() {
                return Some(frame);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_chunks_come_out_whole_and_comments_are_skipped() {
        let mut reader = FrameReader::default();
        reader.push(b": keep-alive\n\nid: 01A\nevent: run.st");
        assert_eq!(reader.next_frame(), None);
        reader.push(b"arted\ndata: {\"id\":\"01A\"}\n\n");
        assert_eq!(
            reader.next_frame(),
            Some(Frame {
                id: Some("01A".into()),
                event: Some("run.started".into()),
                data: "{\"id\":\"01A\"}".into(),
            })
        );
        assert_eq!(reader.next_frame(), None);
    }
}
