//! The data directory's private files (`BLOG_DATA_DIR`): the directory is 0700 and every file
//! in it 0600, so that no other local user can read the JWT secret or the journal, or replace
//! them. The store (journal, snapshot, lock) and the token keys (`jwt-secret`, `jwt-keys.json`)
//! create their files only through these functions.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

/// Creates `dir` (and parents) readable by its owner only. An existing `dir` that its group or
/// others may use is made 0700: otherwise another local user could replace the JWT secret or the
/// journal. When that is not allowed (someone else owns it), the error says what to do.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!(
                        "it is open to other users (mode {mode:04o}) and cannot be made 0700 \
                         ({error}); run `chmod 700` on it as its owner"
                    ),
                )
            })?;
            tracing::warn!(
                path = %dir.display(),
                was = %format_args!("{mode:04o}"),
                "the data directory was open to other users and is now 0700; check that \
                 nobody changed the files in it"
            );
        }
    }
    Ok(())
}

/// Opens `path` with `options`; a file it creates is mode 0600 (an existing file keeps its mode).
pub fn private_file(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options.open(path)
}

/// Replaces `dir/name` with `bytes` so that a crash leaves the old file or the new one, never a
/// torn one: written to `name.tmp` (mode 0600), flushed, renamed over, and the rename flushed.
/// Creates `dir` first (see [`create_private_dir`]) if need be.
pub fn replace_private_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    create_private_dir(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = private_file(
        &tmp,
        OpenOptions::new().write(true).create(true).truncate(true),
    )?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Flushes `dir` itself, so that the files created, renamed or removed in it stay so after a
/// crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn an_existing_data_directory_open_to_others_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mode = || std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        create_private_dir(&data).unwrap();
        assert_eq!(mode(), 0o700, "created private");
        for open in [0o777, 0o750, 0o705] {
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(open)).unwrap();
            create_private_dir(&data).unwrap();
            assert_eq!(mode(), 0o700, "{open:o} is tightened");
        }
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_and_replaced_whole() {
        fn mode(path: &Path) -> u32 {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        replace_private_file(&data, "keys.json", b"one").unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("keys.json")), 0o600);
        replace_private_file(&data, "keys.json", b"two").unwrap();
        assert_eq!(std::fs::read(data.join("keys.json")).unwrap(), b"two");
        assert!(!data.join("keys.json.tmp").exists());
        let lock = data.join("lock");
        private_file(
            &lock,
            OpenOptions::new().create(true).truncate(false).write(true),
        )
        .unwrap();
        assert_eq!(mode(&lock), 0o600);
    }
}
