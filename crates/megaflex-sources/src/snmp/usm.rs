//! SNMPv3 User-based Security Model (RFC 3414, RFC 3826, RFC 7860): key
//! localisation, HMAC authentication (MD5, SHA-1, SHA-2) and privacy
//! (DES-CBC, AES-128-CFB), both ways.
//!
//! For a trap the sender is the authoritative engine, so a user's keys are
//! localised to the sender's engine ID (like net-snmp's `createUser -e`);
//! for an inform megaflex is, and the same user's keys are localised to
//! megaflex's engine ID. The 1 MiB password digest is done once, when the
//! configuration is built; localising is one more hash.

use cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use digest::{Digest, Mac};
use hmac::{Hmac, KeyInit};

/// Authentication protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    /// HMAC-MD5-96.
    Md5,
    /// HMAC-SHA-96.
    Sha1,
    /// HMAC-SHA-224 (RFC 7860, 128-bit MAC).
    Sha224,
    /// HMAC-SHA-256 (192-bit MAC).
    Sha256,
    /// HMAC-SHA-384 (256-bit MAC).
    Sha384,
    /// HMAC-SHA-512 (384-bit MAC).
    Sha512,
}

impl AuthProtocol {
    /// Parses `MD5`, `SHA`/`SHA1`, `SHA-224`, `SHA-256`, `SHA-384`, `SHA-512` (as net-snmp spells them).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().replace('_', "-").as_str() {
            "MD5" => Self::Md5,
            "SHA" | "SHA1" | "SHA-1" => Self::Sha1,
            "SHA-224" | "SHA224" => Self::Sha224,
            "SHA-256" | "SHA256" => Self::Sha256,
            "SHA-384" | "SHA384" => Self::Sha384,
            "SHA-512" | "SHA512" => Self::Sha512,
            _ => return None,
        })
    }

    /// Bytes of MAC carried in msgAuthenticationParameters.
    pub fn mac_len(self) -> usize {
        match self {
            Self::Md5 | Self::Sha1 => 12,
            Self::Sha224 => 16,
            Self::Sha256 => 24,
            Self::Sha384 => 32,
            Self::Sha512 => 48,
        }
    }
}

/// Privacy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProtocol {
    /// CBC-DES (RFC 3414).
    Des,
    /// CFB128-AES-128 (RFC 3826).
    Aes128,
}

impl PrivProtocol {
    /// Parses `DES`, `AES`/`AES128`/`AES-128`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().replace('_', "-").as_str() {
            "DES" => Some(Self::Des),
            "AES" | "AES128" | "AES-128" => Some(Self::Aes128),
            _ => None,
        }
    }
}

fn hash_password<D: Digest>(password: &[u8]) -> Vec<u8> {
    // RFC 3414 A.2: hash 1 MiB of the password repeated.
    let mut d = D::new();
    let mut buf = [0u8; 64];
    let mut index = 0usize;
    for _ in 0..(1_048_576 / 64) {
        for b in &mut buf {
            *b = password[index % password.len()];
            index += 1;
        }
        d.update(buf);
    }
    d.finalize().to_vec()
}

fn localize_with<D: Digest>(ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
    let mut d = D::new();
    d.update(ku);
    d.update(engine_id);
    d.update(ku);
    d.finalize().to_vec()
}

/// Ku: the password digested (RFC 3414 A.2). Empty passwords are refused by the caller.
pub fn password_to_key(auth: AuthProtocol, password: &[u8]) -> Vec<u8> {
    match auth {
        AuthProtocol::Md5 => hash_password::<md5::Md5>(password),
        AuthProtocol::Sha1 => hash_password::<sha1::Sha1>(password),
        AuthProtocol::Sha224 => hash_password::<sha2::Sha224>(password),
        AuthProtocol::Sha256 => hash_password::<sha2::Sha256>(password),
        AuthProtocol::Sha384 => hash_password::<sha2::Sha384>(password),
        AuthProtocol::Sha512 => hash_password::<sha2::Sha512>(password),
    }
}

/// Kul = H(Ku || engineID || Ku).
pub fn localize(auth: AuthProtocol, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
    match auth {
        AuthProtocol::Md5 => localize_with::<md5::Md5>(ku, engine_id),
        AuthProtocol::Sha1 => localize_with::<sha1::Sha1>(ku, engine_id),
        AuthProtocol::Sha224 => localize_with::<sha2::Sha224>(ku, engine_id),
        AuthProtocol::Sha256 => localize_with::<sha2::Sha256>(ku, engine_id),
        AuthProtocol::Sha384 => localize_with::<sha2::Sha384>(ku, engine_id),
        AuthProtocol::Sha512 => localize_with::<sha2::Sha512>(ku, engine_id),
    }
}

/// The HMAC of `parts` (one message, fed in pieces so the MAC field can be
/// zeros without copying the datagram).
fn hmac_over<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Option<M> {
    let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
    for p in parts {
        mac.update(p);
    }
    Some(mac)
}

fn verify_with<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    hmac_over::<M>(key, parts).is_some_and(|m| m.verify_truncated_left(tag).is_ok())
}

fn sign_with<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]], out: &mut [u8]) {
    if let Some(m) = hmac_over::<M>(key, parts) {
        let full = m.finalize().into_bytes();
        let n = out.len().min(full.len());
        out[..n].copy_from_slice(&full[..n]);
    }
}

/// Checks `tag` (the first `mac_len` bytes of the HMAC) over the message
/// made of `parts`, in constant time.
pub fn verify(auth: AuthProtocol, key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    if tag.len() != auth.mac_len() {
        return false;
    }
    match auth {
        AuthProtocol::Md5 => verify_with::<Hmac<md5::Md5>>(key, parts, tag),
        AuthProtocol::Sha1 => verify_with::<Hmac<sha1::Sha1>>(key, parts, tag),
        AuthProtocol::Sha224 => verify_with::<Hmac<sha2::Sha224>>(key, parts, tag),
        AuthProtocol::Sha256 => verify_with::<Hmac<sha2::Sha256>>(key, parts, tag),
        AuthProtocol::Sha384 => verify_with::<Hmac<sha2::Sha384>>(key, parts, tag),
        AuthProtocol::Sha512 => verify_with::<Hmac<sha2::Sha512>>(key, parts, tag),
    }
}

/// Writes the MAC of the message made of `parts` (its MAC field zeroed)
/// into `out` (`mac_len` bytes).
pub fn sign(auth: AuthProtocol, key: &[u8], parts: &[&[u8]], out: &mut [u8]) {
    match auth {
        AuthProtocol::Md5 => sign_with::<Hmac<md5::Md5>>(key, parts, out),
        AuthProtocol::Sha1 => sign_with::<Hmac<sha1::Sha1>>(key, parts, out),
        AuthProtocol::Sha224 => sign_with::<Hmac<sha2::Sha224>>(key, parts, out),
        AuthProtocol::Sha256 => sign_with::<Hmac<sha2::Sha256>>(key, parts, out),
        AuthProtocol::Sha384 => sign_with::<Hmac<sha2::Sha384>>(key, parts, out),
        AuthProtocol::Sha512 => sign_with::<Hmac<sha2::Sha512>>(key, parts, out),
    }
}

/// Encrypts a scopedPDU (DES pads it to 8 bytes). `salt` is the unique
/// value that goes out as msgPrivacyParameters: for DES its first four bytes
/// are replaced by engineBoots (RFC 3414 8.1.1.1).
pub fn encrypt(
    priv_proto: PrivProtocol,
    key: &[u8],
    boots: u32,
    time: u32,
    salt: &mut [u8; 8],
    plain: &[u8],
) -> Option<Vec<u8>> {
    if key.len() < 16 {
        return None;
    }
    match priv_proto {
        PrivProtocol::Des => {
            salt[..4].copy_from_slice(&boots.to_be_bytes());
            let mut iv = [0u8; 8];
            for (i, b) in iv.iter_mut().enumerate() {
                *b = key[8 + i] ^ salt[i];
            }
            let mut data = plain.to_vec();
            data.resize(plain.len().div_ceil(8) * 8, 0);
            let mut enc = cbc::Encryptor::<des::Des>::new_from_slices(&key[..8], &iv).ok()?;
            for chunk in data.chunks_exact_mut(8) {
                let block: &mut cipher::Block<des::Des> = chunk.try_into().ok()?;
                enc.encrypt_block(block);
            }
            Some(data)
        }
        PrivProtocol::Aes128 => {
            let mut iv = [0u8; 16];
            iv[..4].copy_from_slice(&boots.to_be_bytes());
            iv[4..8].copy_from_slice(&time.to_be_bytes());
            iv[8..].copy_from_slice(salt);
            let enc = cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(&key[..16], &iv).ok()?;
            let mut data = plain.to_vec();
            enc.encrypt(&mut data);
            Some(data)
        }
    }
}

/// Decrypts a scopedPDU in place. `salt` is msgPrivacyParameters.
pub fn decrypt(priv_proto: PrivProtocol, key: &[u8], boots: u32, time: u32, salt: &[u8], data: &mut [u8]) -> bool {
    if salt.len() != 8 || key.len() < 16 {
        return false;
    }
    match priv_proto {
        PrivProtocol::Des => {
            if !data.len().is_multiple_of(8) {
                return false;
            }
            // Key: first 8 bytes; pre-IV: next 8, XORed with the salt.
            let mut iv = [0u8; 8];
            for (i, b) in iv.iter_mut().enumerate() {
                *b = key[8 + i] ^ salt[i];
            }
            let Ok(mut dec) = cbc::Decryptor::<des::Des>::new_from_slices(&key[..8], &iv) else { return false };
            for chunk in data.chunks_exact_mut(8) {
                let block: &mut cipher::Block<des::Des> = chunk.try_into().expect("8-byte chunk");
                dec.decrypt_block(block);
            }
            true
        }
        PrivProtocol::Aes128 => {
            let mut iv = [0u8; 16];
            iv[..4].copy_from_slice(&boots.to_be_bytes());
            iv[4..8].copy_from_slice(&time.to_be_bytes());
            iv[8..].copy_from_slice(salt);
            let Ok(dec) = cfb_mode::Decryptor::<aes::Aes128>::new_from_slices(&key[..16], &iv) else { return false };
            dec.decrypt(data);
            true
        }
    }
}

/// A configured engine ID that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineIdError {
    /// Not hexadecimal.
    #[error("engine ID {0:?} is not hex")]
    NotHex(String),
    /// Too short or too long.
    #[error("engine ID {text:?} is {bytes} bytes; an engine ID is 5 to 32 bytes")]
    Length {
        /// As configured.
        text: String,
        /// Its length.
        bytes: usize,
    },
}

/// An engine ID as configured: hex, `0x` optional, 5 to 32 bytes (RFC 3411 SnmpEngineID).
pub fn parse_engine_id(text: &str) -> Result<Vec<u8>, EngineIdError> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|_| EngineIdError::NotHex(text.to_owned()))?;
    if !(5..=32).contains(&bytes.len()) {
        return Err(EngineIdError::Length { text: text.to_owned(), bytes: bytes.len() });
    }
    Ok(bytes)
}

/// A configured USM user that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsmUserError {
    /// Privacy without authentication (RFC 3414 has no noAuthPriv).
    #[error("user {0}: privacy needs authentication too (authPriv)")]
    PrivacyWithoutAuth(String),
    /// A password under 8 characters.
    #[error("user {name}: the {what} password must be at least 8 characters (RFC 3414)")]
    ShortPassword {
        /// User name.
        name: String,
        /// `authentication` or `privacy`.
        what: &'static str,
    },
}

/// A configured USM user: its password digests (Ku), not yet localised.
#[derive(Clone)]
pub struct UsmUser {
    /// User name.
    pub name: String,
    /// The engine whose traps this user sends (keys localised to it too);
    /// `None`: the user sends informs only (keys localised to megaflex's engine).
    pub sender_engine_id: Option<Vec<u8>>,
    auth: Option<(AuthProtocol, Vec<u8>)>,
    privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl std::fmt::Debug for UsmUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsmUser")
            .field("name", &self.name)
            .field("sender_engine_id", &self.sender_engine_id.as_ref().map(hex::encode))
            .field("auth", &self.auth.as_ref().map(|(p, _)| p))
            .field("privacy", &self.privacy.as_ref().map(|(p, _)| p))
            .finish()
    }
}

impl UsmUser {
    /// Digests the passwords (slow by design: ~1 MiB of hashing per key; do
    /// it once at start).
    pub fn new(
        name: &str,
        sender_engine_id: Option<&[u8]>,
        auth: Option<(AuthProtocol, &str)>,
        privacy: Option<(PrivProtocol, &str)>,
    ) -> Result<Self, UsmUserError> {
        if privacy.is_some() && auth.is_none() {
            return Err(UsmUserError::PrivacyWithoutAuth(name.to_owned()));
        }
        for (what, p) in [("authentication", auth.map(|a| a.1)), ("privacy", privacy.map(|p| p.1))] {
            if let Some(p) = p
                && p.len() < 8
            {
                return Err(UsmUserError::ShortPassword { name: name.to_owned(), what });
            }
        }
        let auth_ku = auth.map(|(proto, pw)| (proto, password_to_key(proto, pw.as_bytes())));
        // The privacy key is digested with the authentication protocol's hash.
        let privacy = match (privacy, auth) {
            (Some((pp, pw)), Some((ap, _))) => Some((pp, password_to_key(ap, pw.as_bytes()))),
            _ => None,
        };
        Ok(Self {
            name: name.to_owned(),
            sender_engine_id: sender_engine_id.map(<[u8]>::to_vec),
            auth: auth_ku,
            privacy,
        })
    }

    /// The user's keys localised to `engine_id`.
    pub fn localized(&self, engine_id: &[u8]) -> LocalizedUser {
        let auth = self.auth.as_ref().map(|(p, ku)| (*p, localize(*p, ku, engine_id)));
        let privacy = match (&self.privacy, &self.auth) {
            (Some((pp, ku)), Some((ap, _))) => Some((*pp, localize(*ap, ku, engine_id))),
            _ => None,
        };
        LocalizedUser { name: self.name.clone().into_bytes(), engine_id: engine_id.to_vec(), auth, privacy }
    }
}

/// A user's keys for one authoritative engine (one row of usmUserTable).
#[derive(Clone)]
pub struct LocalizedUser {
    /// User name, as on the wire.
    pub name: Vec<u8>,
    /// The authoritative engine.
    pub engine_id: Vec<u8>,
    /// Authentication, with the localised key.
    pub auth: Option<(AuthProtocol, Vec<u8>)>,
    /// Privacy, with the localised key.
    pub privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl std::fmt::Debug for LocalizedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalizedUser")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("engine_id", &hex::encode(&self.engine_id))
            .field("auth", &self.auth.as_ref().map(|(p, _)| p))
            .field("privacy", &self.privacy.as_ref().map(|(p, _)| p))
            .finish()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    const ENGINE: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    #[test]
    fn rfc3414_a3_1_md5_vectors() {
        let ku = password_to_key(AuthProtocol::Md5, b"maplesyrup");
        assert_eq!(hex::encode(&ku), "9faf3283884e92834ebc9847d8edd963");
        assert_eq!(hex::encode(localize(AuthProtocol::Md5, &ku, &ENGINE)), "526f5eed9fcce26f8964c2930787d82b");
    }

    #[test]
    fn rfc3414_a3_2_sha1_vectors() {
        let ku = password_to_key(AuthProtocol::Sha1, b"maplesyrup");
        assert_eq!(hex::encode(&ku), "9fb5cc0381497b3793528939ff788d5d79145211");
        assert_eq!(hex::encode(localize(AuthProtocol::Sha1, &ku, &ENGINE)), "6695febc9288e36282235fc7151f128497b38f3f");
    }

    #[test]
    fn engine_ids_are_hex_of_5_to_32_bytes() {
        assert_eq!(parse_engine_id("0x8000000001020304"), Ok(vec![0x80, 0, 0, 0, 1, 2, 3, 4]));
        assert_eq!(parse_engine_id("80000000010203").map(|v| v.len()), Ok(7));
        assert!(parse_engine_id("80000000").unwrap_err().to_string().contains("5 to 32"));
        assert!(parse_engine_id(&"ab".repeat(33)).unwrap_err().to_string().contains("5 to 32"));
        assert!(parse_engine_id("0xzz00000000").unwrap_err().to_string().contains("not hex"));
    }

    #[test]
    fn encryption_round_trips() {
        let key = localize(AuthProtocol::Sha1, &password_to_key(AuthProtocol::Sha1, b"privpass123"), &ENGINE);
        for proto in [PrivProtocol::Des, PrivProtocol::Aes128] {
            let plain = b"a scoped PDU that is not a multiple of eight".to_vec();
            let mut salt = [9u8; 8];
            let mut data = encrypt(proto, &key, 7, 1234, &mut salt, &plain).unwrap();
            assert_ne!(&data[..plain.len()], &plain[..]);
            assert!(decrypt(proto, &key, 7, 1234, &salt, &mut data));
            assert_eq!(&data[..plain.len()], &plain[..]);
        }
    }

    #[test]
    fn sign_then_verify() {
        let key = [5u8; 20];
        let mut tag = [0u8; 12];
        sign(AuthProtocol::Sha1, &key, &[b"mess", b"age"], &mut tag);
        assert!(verify(AuthProtocol::Sha1, &key, &[b"message"], &tag));
        assert!(!verify(AuthProtocol::Sha1, &key, &[b"messagE"], &tag));
        assert!(!verify(AuthProtocol::Sha1, &key, &[b"message"], &tag[..11]));
    }

    #[test]
    fn weak_or_inconsistent_users_are_refused() {
        let e = Some(&ENGINE[..]);
        assert!(
            UsmUser::new("u", e, Some((AuthProtocol::Sha1, "short")), None)
                .unwrap_err()
                .to_string()
                .contains("at least 8")
        );
        assert!(
            UsmUser::new("u", e, None, Some((PrivProtocol::Aes128, "longenough")))
                .unwrap_err()
                .to_string()
                .contains("authPriv")
        );
        let u = UsmUser::new("u", e, Some((AuthProtocol::Sha1, "maplesyrup")), None).unwrap();
        assert!(!format!("{u:?}").contains("9fb5"), "no key in Debug");
        assert!(!format!("{:?}", u.localized(&ENGINE)).contains("6695"), "no key in Debug");
    }
}
