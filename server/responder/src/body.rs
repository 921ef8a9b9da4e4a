//! The response body: the static payload, or its AES-128-CBC encryption per request.

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeEncrypt, InnerIvInit, KeyInit};
use rand::RngCore;

/// The key of `--aes128` bodies (fixed, so that clients and tests can decrypt them).
///
/// The benchmark measures the cost of encrypting, not secrecy.
pub const AES128_KEY: [u8; 16] = *b"tcpserver-bench!";

/// The default body, used when `--payload` is absent.
pub const DEFAULT_PAYLOAD: &[u8] = b"Hello World!\r\n";

const BLOCK: usize = 16;

/// The static payload: `len` bytes of `'a'`, or [`DEFAULT_PAYLOAD`] for `None`.
///
/// ```
/// use tcpserver_responder::payload;
/// assert_eq!(payload(None), b"Hello World!\r\n");
/// assert_eq!(payload(Some(3)), b"aaa");
/// ```
pub fn payload(len: Option<usize>) -> Vec<u8> {
    match len {
        Some(n) => vec![b'a'; n],
        None => DEFAULT_PAYLOAD.to_vec(),
    }
}

/// Length of an `--aes128` body for a payload of `plain_len` bytes: IV + PKCS#7-padded ciphertext.
///
/// ```
/// assert_eq!(tcpserver_responder::aes128_body_len(1024), 1056);
/// ```
pub fn aes128_body_len(plain_len: usize) -> usize {
    BLOCK + (plain_len / BLOCK + 1) * BLOCK
}

/// One `--aes128` body: a fresh random IV followed by AES-128-CBC/PKCS#7 of `plain` under
/// [`AES128_KEY`], exactly the work the responder does per request.
///
/// ```
/// let body = tcpserver_responder::aes128_body(b"hello");
/// assert_eq!(body.len(), 32);
/// ```
pub fn aes128_body(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(aes128_body_len(plain.len()));
    BodyEncoder::new(plain.to_vec(), true).append(&mut out);
    out
}

/// Appends the body of each response.
pub(crate) struct BodyEncoder {
    plain: Box<[u8]>,
    /// The expanded key, cloned per request instead of re-running the key schedule.
    cipher: Option<Aes128>,
    wire_len: usize,
}

impl std::fmt::Debug for BodyEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyEncoder")
            .field("plain_len", &self.plain.len())
            .field("aes128", &self.cipher.is_some())
            .field("wire_len", &self.wire_len)
            .finish()
    }
}

impl BodyEncoder {
    pub(crate) fn new(plain: Vec<u8>, aes128: bool) -> Self {
        let wire_len = if aes128 {
            aes128_body_len(plain.len())
        } else {
            plain.len()
        };
        BodyEncoder {
            plain: plain.into_boxed_slice(),
            cipher: aes128.then(|| Aes128::new(&AES128_KEY.into())),
            wire_len,
        }
    }

    /// The body length on the wire (the `Content-Length`).
    pub(crate) fn len(&self) -> usize {
        self.wire_len
    }

    /// The body when it is the same for every request (no `--aes128`).
    pub(crate) fn fixed(&self) -> Option<&[u8]> {
        self.cipher.is_none().then_some(&*self.plain)
    }

    /// Appends one body to `out`, encrypting in place in `out` (no allocation once `out` has
    /// grown to its working size).
    pub(crate) fn append(&self, out: &mut Vec<u8>) {
        let Some(cipher) = &self.cipher else {
            out.extend_from_slice(&self.plain);
            return;
        };
        let mut iv = [0u8; BLOCK];
        rand::rng().fill_bytes(&mut iv);
        let start = out.len();
        out.extend_from_slice(&iv);
        out.resize(start + self.wire_len, 0);
        let encryptor = cbc::Encryptor::<Aes128>::inner_iv_init(cipher.clone(), &iv.into());
        let written = encryptor
            .encrypt_padded_b2b::<Pkcs7>(&self.plain, &mut out[start + BLOCK..])
            .map(<[u8]>::len);
        // The output slice has exactly the padded length, so this cannot fail; stay safe anyway.
        debug_assert_eq!(written.ok(), Some(self.wire_len - BLOCK));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockModeDecrypt, KeyIvInit};

    fn decrypt(body: &[u8]) -> Vec<u8> {
        let (iv, ct) = body.split_at(BLOCK);
        let iv: [u8; BLOCK] = iv.try_into().unwrap();
        let mut buf = ct.to_vec();
        cbc::Decryptor::<Aes128>::new(&AES128_KEY.into(), &iv.into())
            .decrypt_padded::<Pkcs7>(&mut buf)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn aes_bodies_decrypt_and_differ() {
        for len in [0, 1, 15, 16, 17, 1024, 16384] {
            let plain = payload(Some(len));
            let enc = BodyEncoder::new(plain.clone(), true);
            let mut out = b"head".to_vec();
            enc.append(&mut out);
            enc.append(&mut out);
            assert_eq!(out.len(), 4 + 2 * aes128_body_len(len));
            let (a, b) = out[4..].split_at(enc.len());
            assert_eq!(decrypt(a), plain);
            assert_eq!(decrypt(b), plain);
            assert_ne!(a[..BLOCK], b[..BLOCK], "fresh IV per body");
        }
        assert_eq!(aes128_body(&payload(Some(1024))).len(), 1056);
    }

    #[test]
    fn plain_bodies() {
        let enc = BodyEncoder::new(payload(None), false);
        let mut out = Vec::new();
        enc.append(&mut out);
        assert_eq!(out, DEFAULT_PAYLOAD);
        assert_eq!(enc.len(), 14);
    }
}
