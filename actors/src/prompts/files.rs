//! The template files on disk: reading one whole, and writing a default into place.
//!
//! An existing file is never overwritten: a default is written to a temporary file in the same
//! directory and moved into place only if nothing is there yet (`renameat2(RENAME_NOREPLACE)`, or
//! link-then-unlink, through `tempfile`), so a crash leaves either no file or a whole one, and a
//! file the user created meanwhile wins. When the directory cannot be written at all (a read-only
//! file system, a server started with `/` as its working directory), the built-in text is served
//! and a warning logged: there is no file to edit, so the default is exactly what the user would
//! get.
//!
//! A template is read through one open file, whole, so an editor that saves by renaming a new
//! file over the old one is seen either before or after, never half-way. Everything here blocks;
//! the store runs it on tokio's blocking pool.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use super::PromptError;
use super::catalogue::Prompt;

/// Larger template files are refused rather than read: a template is a page of text, and a
/// file this large is a mistake (a log, a binary) that would flood the model's context.
const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// The template text of `prompt` from `file` in `dir`: the file's, or the default, written to
/// the file if it is free.
pub(super) fn load(dir: &Path, file: &Path, prompt: &Prompt) -> Result<String, PromptError> {
    match read_template(file) {
        Ok(text) => return Ok(text),
        Err(error) if is_missing(&error) => {}
        Err(error) => return Err(unreadable(file, error)),
    }
    match write_new(dir, file, prompt.default_template) {
        Ok(true) => {
            tracing::info!(file = %file.display(), "wrote the default prompt template");
            Ok(prompt.default_template.to_owned())
        }
        // Someone (an editor) created the file between our read and our write: theirs wins.
        Ok(false) => read_template(file).map_err(|error| unreadable(file, error)),
        Err(error) => {
            tracing::warn!(
                file = %file.display(),
                %error,
                "cannot write the default prompt template; serving the built-in one"
            );
            Ok(prompt.default_template.to_owned())
        }
    }
}

/// Whether a read failed because there is no file (or no directory) where the template goes.
fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn unreadable(file: &Path, error: io::Error) -> PromptError {
    PromptError::Unreadable {
        file: file.to_owned(),
        reason: error.to_string(),
    }
}

/// Reads a whole template through one open file, so a rename over it is seen before or after,
/// never half-way. Invalid UTF-8 and oversized files are `InvalidData` errors saying why.
fn read_template(file: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    File::open(file)?
        .take(MAX_TEMPLATE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_TEMPLATE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} KiB, the limit for a template",
                MAX_TEMPLATE_BYTES / 1024
            ),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is not valid UTF-8 (byte {} is not part of a UTF-8 character)",
                error.utf8_error().valid_up_to()
            ),
        )
    })?;
    // Some editors on Windows start UTF-8 files with a byte order mark; it is not text.
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// Writes `contents` to `file` unless `file` exists, atomically: the text goes to a temporary
/// file in the same directory, is flushed to disk, and is then moved into place without
/// replacing anything. `Ok(false)`: the file exists and was left alone.
fn write_new(dir: &Path, file: &Path, contents: &str) -> io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".espomcp-").suffix(".md.tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An ordinary file for the user to edit, not tempfile's owner-only 0600 (umask applies).
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut temporary = builder.tempfile_in(dir)?;
    temporary.write_all(contents.as_bytes())?;
    temporary.as_file().sync_all()?;
    // On failure the temporary file is deleted when the error is dropped.
    match temporary.persist_noclobber(file) {
        Ok(_) => Ok(true),
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error.error),
    }
}
