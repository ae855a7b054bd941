//! The stdio transport: newline-delimited JSON-RPC on stdin and stdout, read and written by
//! espomcp itself rather than by rmcp's `AsyncRwTransport`, so that every line gets an answer.
//! It implements rmcp's [`Transport`] directly, so rmcp's service loop runs on top of it
//! unchanged and no message is copied through an in-memory pipe.
//!
//! - **Reading.** Lines are read as raw bytes (invalid UTF-8 is a refusal like any other, not
//!   an I/O error), at most [`framing::MAX_LINE_BYTES`] at a time: a longer line is refused
//!   as soon as it passes the limit and the rest of it is skipped up to its newline without
//!   being kept. Each line is decided on by [`framing::decode`]: a message goes to rmcp, a
//!   refusal is answered here.
//! - **Writing.** rmcp's responses and the refusals go through one `Output`: a mutex over
//!   stdout and a buffer. A message is serialised into the buffer and the buffer written out
//!   under the lock, so lines never interleave, and a write cut short (rmcp polls `receive`
//!   inside a `select!`, which drops it when another branch is ready) leaves the rest in the
//!   buffer for whoever writes next, never half a line followed by another.
//!
//! Stdin and stdout are rmcp's `stdio_pipes`: on Linux, when both are pipes (how MCP clients
//! start servers), reads and writes run on the I/O reactor rather than a blocking thread.

use std::io;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::{StdioReader, StdioWriter, Transport};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

use crate::framing::{self, Decoded, Refusal};

/// The output buffer's capacity kept between messages; a larger one (after a big answer) is
/// given back, so a long-running server does not hold its largest answer's size for good.
const KEPT_BUFFER_BYTES: usize = 64 * 1024;

/// The transport over the process's stdin and stdout.
pub fn transport() -> StdioTransport<StdioReader, StdioWriter> {
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    StdioTransport::new(stdin, stdout)
}

/// Newline-delimited JSON-RPC over any reader and writer (stdin and stdout in the server; a
/// duplex pipe in tests).
pub struct StdioTransport<R, W> {
    reader: BufReader<R>,
    /// The line being read: kept across calls, because a cancelled `receive` must resume it.
    line: Vec<u8>,
    max_line_bytes: usize,
    /// Set while the rest of a line too long is being skipped, until its newline.
    skipping: bool,
    output: Arc<Mutex<Output<W>>>,
    /// A refusal not yet fully written; written before the next line is read.
    pending: Option<Pending>,
}

/// Where the answer to a refused line stands. Kept on the transport because `receive` can be
/// dropped at any await: the answer is first queued into the output buffer, then flushed.
enum Pending {
    Queue(Vec<u8>),
    Flush,
}

/// Stdout with the bytes not yet written to it.
struct Output<W> {
    /// `None` once the transport is closed.
    writer: Option<W>,
    buffer: Vec<u8>,
    /// How much of `buffer` is already written.
    written: usize,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    /// Writes out the buffer (what an earlier, interrupted writer left first) and flushes.
    async fn flush(&mut self) -> io::Result<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "stdout is closed"))?;
        while self.written < self.buffer.len() {
            let n = writer.write(&self.buffer[self.written..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.written += n;
        }
        self.buffer.clear();
        self.written = 0;
        if self.buffer.capacity() > KEPT_BUFFER_BYTES {
            self.buffer = Vec::new();
        }
        writer.flush().await
    }
}

/// One attempt at reading a line.
enum Line {
    /// A whole line is in `line`, its newline included.
    Complete,
    /// The line passed the limit; its refusal.
    TooLong(Box<Refusal>),
    /// Stdin is closed.
    End,
    Failed(io::Error),
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> StdioTransport<R, W> {
    pub fn new(reader: R, writer: W) -> Self {
        StdioTransport {
            reader: BufReader::new(reader),
            line: Vec::new(),
            max_line_bytes: framing::MAX_LINE_BYTES,
            skipping: false,
            output: Arc::new(Mutex::new(Output {
                writer: Some(writer),
                buffer: Vec::new(),
                written: 0,
            })),
            pending: None,
        }
    }

    /// A different line limit (tests use a small one).
    pub fn with_max_line_bytes(mut self, max_line_bytes: usize) -> Self {
        self.max_line_bytes = max_line_bytes;
        self
    }

    /// Reads up to the next newline into `line`, never letting it grow past the limit.
    /// Cancel-safe: bytes are taken from the reader's buffer (`consume`) only in the same
    /// synchronous step that stores or skips them.
    async fn read_line(&mut self) -> Line {
        loop {
            let available = match self.reader.fill_buf().await {
                Ok(available) => available,
                Err(e) => return Line::Failed(e),
            };
            if available.is_empty() {
                if !self.line.is_empty() {
                    tracing::debug!(
                        bytes = self.line.len(),
                        "stdin closed in the middle of a line; it is not a message"
                    );
                }
                return Line::End;
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let take = newline.map_or(available.len(), |at| at + 1);
            let outcome = if self.skipping {
                if newline.is_some() {
                    self.skipping = false;
                }
                None
            } else if self.line.len() + take > self.max_line_bytes {
                // The id, if any, is near the start: look for it in the first `max` bytes.
                let room = self.max_line_bytes.saturating_sub(self.line.len());
                self.line.extend_from_slice(&available[..room.min(take)]);
                let refusal = framing::too_long(&self.line, self.max_line_bytes);
                self.line.clear();
                self.skipping = newline.is_none();
                Some(Line::TooLong(Box::new(refusal)))
            } else {
                self.line.extend_from_slice(&available[..take]);
                newline.map(|_| Line::Complete)
            };
            self.reader.consume(take);
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }
}

impl<R, W> Transport<RoleServer> for StdioTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let output = self.output.clone();
        async move {
            let mut output = output.lock().await;
            let start = output.buffer.len();
            if let Err(e) = serde_json::to_writer(&mut output.buffer, &item) {
                output.buffer.truncate(start);
                return Err(e.into());
            }
            output.buffer.push(b'\n');
            output.flush().await
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if let Some(pending) = self.pending.as_mut() {
                let mut output = self.output.lock().await;
                if let Pending::Queue(answer) = std::mem::replace(pending, Pending::Flush) {
                    output.buffer.extend_from_slice(&answer);
                }
                if let Err(e) = output.flush().await {
                    tracing::error!("cannot write to stdout: {e}");
                    return None;
                }
                drop(output);
                self.pending = None;
            }
            let refusal = match self.read_line().await {
                Line::Complete => {
                    let text = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
                    let decoded = framing::decode(text);
                    self.line.clear();
                    match decoded {
                        Decoded::Message(message) => return Some(*message),
                        Decoded::Blank | Decoded::Ignored => continue,
                        Decoded::Refused(refusal) => refusal,
                    }
                }
                Line::TooLong(refusal) => refusal,
                Line::End => return None,
                Line::Failed(e) => {
                    tracing::error!("cannot read stdin: {e}");
                    return None;
                }
            };
            tracing::info!(
                code = refusal.error.code.0,
                id = ?refusal.id,
                "refused a message on stdin"
            );
            tracing::debug!("the refusal: {}", refusal.error.message);
            self.pending = Some(Pending::Queue(refusal.to_line()));
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let mut output = self.output.lock().await;
        let flushed = match output.writer {
            Some(_) => output.flush().await,
            None => Ok(()),
        };
        output.writer = None;
        flushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ClientRequest, ErrorData, JsonRpcMessage, RequestId};
    use serde_json::{Value, json};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, DuplexStream};

    /// A transport over two in-memory pipes, and the client's ends of them.
    fn pipes(
        max_line_bytes: usize,
    ) -> (
        StdioTransport<DuplexStream, DuplexStream>,
        DuplexStream,
        tokio::io::Lines<BufReader<DuplexStream>>,
    ) {
        let (client_in, server_in) = tokio::io::duplex(1 << 16);
        let (server_out, client_out) = tokio::io::duplex(1 << 16);
        let transport =
            StdioTransport::new(server_in, server_out).with_max_line_bytes(max_line_bytes);
        (transport, client_in, BufReader::new(client_out).lines())
    }

    async fn answer(lines: &mut tokio::io::Lines<BufReader<DuplexStream>>) -> Value {
        let line = lines.next_line().await.expect("reads").expect("a line");
        serde_json::from_str(&line).expect("JSON")
    }

    #[tokio::test]
    async fn should_answer_refusals_and_hand_on_the_next_message() {
        let (mut transport, mut input, mut output) = pipes(200);
        input
            .write_all(b"{oops\n\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\n")
            .await
            .expect("writes");
        let message = transport.receive().await.expect("a message");
        let Some((ClientRequest::PingRequest(_), id)) = message.into_request() else {
            panic!("not the ping");
        };
        assert_eq!(id, RequestId::Number(7));
        let refused = answer(&mut output).await;
        assert_eq!(refused["error"]["code"], -32700);
        assert_eq!(refused["id"], Value::Null);
    }

    #[tokio::test]
    async fn should_refuse_a_line_too_long_without_keeping_it_and_read_on() {
        let (mut transport, mut input, mut output) = pipes(100);
        let long = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{{\"name\":\"{}\"}}}}\n",
            "A".repeat(100_000)
        );
        let writer = tokio::spawn(async move {
            input.write_all(long.as_bytes()).await.expect("writes");
            input
                .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}\n")
                .await
                .expect("writes");
            input
        });
        let message = transport.receive().await.expect("a message");
        assert_eq!(
            message.into_request().expect("a request").1,
            RequestId::Number(4)
        );
        assert!(
            transport.line.capacity() <= 100 + 8 * 1024,
            "the long line was kept"
        );
        let refused = answer(&mut output).await;
        assert_eq!(refused["error"]["code"], -32600);
        assert_eq!(refused["id"], 3);
        assert_eq!(refused["error"]["data"]["limit"], 100);
        drop(writer.await);
    }

    #[tokio::test]
    async fn should_write_answers_and_refusals_whole_lines_in_order() {
        let (mut transport, mut input, mut output) = pipes(1000);
        let answer_of = |id: i64| {
            JsonRpcMessage::error(
                ErrorData::internal_error("x", None),
                Some(RequestId::Number(id)),
            )
        };
        transport.send(answer_of(1)).await.expect("sent");
        input.write_all(b"[]\n").await.expect("writes");
        input.shutdown().await.expect("closes");
        assert!(transport.receive().await.is_none());
        transport.send(answer_of(2)).await.expect("sent");
        transport.close().await.expect("closed");
        assert_eq!(answer(&mut output).await["id"], json!(1));
        assert_eq!(answer(&mut output).await["error"]["code"], -32600);
        assert_eq!(answer(&mut output).await["id"], json!(2));
        assert!(transport.send(answer_of(3)).await.is_err());
    }
}
