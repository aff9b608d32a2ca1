//! TFRecord framing, the container of TensorBoard's event files.
//!
//! Each record is: the data's length as a little-endian u64, the masked CRC-32C of those
//! 8 bytes, the data, the masked CRC-32C of the data (TensorFlow's
//! `core/lib/io/record_writer.cc`; TensorBoard's reader is `data/server/tf_record.rs`).
//! The masking is LevelDB's: TensorBoard's `data/server/masked_crc.rs` says a checksum of
//! data that holds checksums is otherwise weak.

/// Added after the rotation, as LevelDB and TensorFlow do.
const MASK_DELTA: u32 = 0xa282_ead8;

/// The bytes a record adds around its data.
pub const OVERHEAD: usize = 8 + 4 + 4;

/// The checksum TFRecords store: CRC-32C, rotated right by 15 bits, plus a constant.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Appends one framed record holding `data` to `out`.
pub fn frame_into(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.reserve(OVERHEAD + data.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

/// What ends the readable part of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The last record ends where the file does.
    Clean,
    /// The file ends inside a record: a writer was killed mid-write, or is writing now.
    Torn { at: usize },
    /// A complete record whose checksum does not match: the bytes were damaged, so
    /// nothing from here on can be trusted (TensorBoard stops reading here too).
    Corrupt { at: usize, what: &'static str },
}

impl End {
    /// Where the good part of the file ends.
    pub fn good_len(&self, total: usize) -> usize {
        match *self {
            End::Clean => total,
            End::Torn { at } | End::Corrupt { at, .. } => at,
        }
    }
}

/// The data of each whole, checked record in `bytes`, up to the first that is not.
pub fn read(bytes: &[u8]) -> (Vec<&[u8]>, End) {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match record_at(bytes, at) {
            Ok((data, next)) => {
                records.push(data);
                at = next;
            }
            Err(end) => return (records, end),
        }
    }
    (records, End::Clean)
}

/// The record that starts at `at` and where the next one starts.
fn record_at(bytes: &[u8], at: usize) -> Result<(&[u8], usize), End> {
    let torn = End::Torn { at };
    let header = bytes.get(at..at + 12).ok_or(torn.clone())?;
    let (len_bytes, len_crc) = header.split_at(8);
    if masked_crc(len_bytes) != le_u32(len_crc) {
        return Err(End::Corrupt {
            at,
            what: "the checksum of a record's length does not match",
        });
    }
    let len = usize::try_from(le_u64(len_bytes)).map_err(|_| End::Corrupt {
        at,
        what: "a record's length does not fit in memory",
    })?;
    let data_end = (at + 12).checked_add(len).ok_or(torn.clone())?;
    let data = bytes.get(at + 12..data_end).ok_or(torn.clone())?;
    let crc = bytes.get(data_end..data_end + 4).ok_or(torn)?;
    if masked_crc(data) != le_u32(crc) {
        return Err(End::Corrupt {
            at,
            what: "the checksum of a record's data does not match",
        });
    }
    Ok((data, data_end + 4))
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(b);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    // TensorBoard's data/server/masked_crc.rs: from a real TensorFlow event file holding
    // `Event(file_version=b"CRC test, one two")`, whose serialized bytes these are.
    #[test]
    fn masked_crc_matches_a_record_written_by_tensorflow() {
        assert_eq!(masked_crc(b"\x1a\x11CRC test, one two"), 0x5794_d08a);
    }

    // RFC 3720 (iSCSI), B.4: 32 zero bytes have CRC-32C 0x8a9136aa; masked by hand:
    // rotated right by 15 bits, 0x6d55_1522, plus 0xa282_ead8 (mod 2^32).
    #[test]
    fn masked_crc_is_the_rotated_castagnoli_crc() {
        assert_eq!(crc32c::crc32c(&[0; 32]), 0x8a91_36aa);
        assert_eq!(masked_crc(&[0; 32]), 0x0fd7_fffa);
    }

    #[test]
    fn records_round_trip() {
        let mut file = Vec::new();
        for data in [&b"one"[..], b"", &[7u8; 300][..]] {
            frame_into(&mut file, data);
        }
        assert_eq!(file.len(), 3 * OVERHEAD + 3 + 300);
        let (records, end) = read(&file);
        assert_eq!(end, End::Clean);
        assert_eq!(records, vec![&b"one"[..], b"", &[7u8; 300][..]]);
    }

    #[test]
    fn a_torn_tail_ends_the_records_at_the_last_whole_one() {
        let mut file = Vec::new();
        frame_into(&mut file, b"whole");
        let whole = file.len();
        frame_into(&mut file, b"torn by a kill");
        for cut in whole + 1..file.len() {
            let (records, end) = read(&file[..cut]);
            assert_eq!(records, vec![&b"whole"[..]], "cut at {cut}");
            assert_eq!(end, End::Torn { at: whole }, "cut at {cut}");
            assert_eq!(end.good_len(cut), whole);
        }
    }

    #[test]
    fn damaged_bytes_end_the_records_as_corrupt() {
        let mut file = Vec::new();
        frame_into(&mut file, b"good");
        let good = file.len();
        frame_into(&mut file, b"damaged");
        let mut data = file.clone();
        data[good + 12] ^= 1;
        let (records, end) = read(&data);
        assert_eq!(records, vec![&b"good"[..]]);
        assert!(
            matches!(end, End::Corrupt { at, .. } if at == good),
            "{end:?}"
        );
        let mut length = file.clone();
        length[good] ^= 1;
        assert!(matches!(read(&length).1, End::Corrupt { at, .. } if at == good));
    }
}
