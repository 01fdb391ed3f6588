//! SNMPv3 User-based Security Model (RFC 3414, RFC 3826, RFC 7860) for
//! receiving traps: key localisation, HMAC authentication (MD5, SHA-1,
//! SHA-2) and privacy (DES-CBC, AES-128-CFB).
//!
//! For a trap the sender is the authoritative engine, so each user is set up
//! per sender engine ID (like net-snmp's `createUser -e`); keys are derived
//! once, when the configuration is built.

use cipher::{BlockModeDecrypt, KeyIvInit};
use digest::{Digest, Mac};
use hmac::{Hmac, KeyInit};
use rasn_snmp::v3;

use super::decode::{DecodeError, Notification, Version, from_v2_pdu};

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

fn hmac_ok<M: Mac + KeyInit>(key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else { return false };
    mac.update(msg);
    mac.verify_truncated_left(tag).is_ok()
}

/// Checks `tag` (the first `mac_len` bytes of the HMAC) over `msg`.
pub fn verify(auth: AuthProtocol, key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
    if tag.len() != auth.mac_len() {
        return false;
    }
    match auth {
        AuthProtocol::Md5 => hmac_ok::<Hmac<md5::Md5>>(key, msg, tag),
        AuthProtocol::Sha1 => hmac_ok::<Hmac<sha1::Sha1>>(key, msg, tag),
        AuthProtocol::Sha224 => hmac_ok::<Hmac<sha2::Sha224>>(key, msg, tag),
        AuthProtocol::Sha256 => hmac_ok::<Hmac<sha2::Sha256>>(key, msg, tag),
        AuthProtocol::Sha384 => hmac_ok::<Hmac<sha2::Sha384>>(key, msg, tag),
        AuthProtocol::Sha512 => hmac_ok::<Hmac<sha2::Sha512>>(key, msg, tag),
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

/// A configured USM user, keys localised to one sender engine.
#[derive(Clone)]
pub struct UsmUser {
    /// User name.
    pub name: String,
    /// The sender's (authoritative) engine ID.
    pub engine_id: Vec<u8>,
    /// Authentication, with the localised key.
    pub auth: Option<(AuthProtocol, Vec<u8>)>,
    /// Privacy, with the localised key.
    pub privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl std::fmt::Debug for UsmUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsmUser")
            .field("name", &self.name)
            .field("engine_id", &hex::encode(&self.engine_id))
            .field("auth", &self.auth.as_ref().map(|(p, _)| p))
            .field("privacy", &self.privacy.as_ref().map(|(p, _)| p))
            .finish()
    }
}

impl UsmUser {
    /// Derives the localised keys from passwords (slow by design: ~1 MiB of
    /// hashing per key; do it once at start).
    pub fn new(
        name: &str,
        engine_id: &[u8],
        auth: Option<(AuthProtocol, &str)>,
        privacy: Option<(PrivProtocol, &str)>,
    ) -> Result<Self, String> {
        if privacy.is_some() && auth.is_none() {
            return Err(format!("user {name}: privacy needs authentication too (authPriv)"));
        }
        for (what, p) in [("authentication", auth.map(|a| a.1)), ("privacy", privacy.map(|p| p.1))] {
            if let Some(p) = p
                && p.len() < 8
            {
                return Err(format!("user {name}: the {what} password must be at least 8 characters (RFC 3414)"));
            }
        }
        let auth_key =
            auth.map(|(proto, pw)| (proto, localize(proto, &password_to_key(proto, pw.as_bytes()), engine_id)));
        let privacy = match (privacy, auth) {
            (Some((pp, pw)), Some((ap, _))) => Some((pp, localize(ap, &password_to_key(ap, pw.as_bytes()), engine_id))),
            _ => None,
        };
        Ok(Self { name: name.to_owned(), engine_id: engine_id.to_vec(), auth: auth_key, privacy })
    }
}

/// Why a v3 message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsmError {
    /// Not a decodable v3 message.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// No such user for this engine ID.
    #[error("unknown user {user:?} for engine {engine_id}")]
    UnknownUser {
        /// User name.
        user: String,
        /// Engine ID, hex.
        engine_id: String,
    },
    /// The message's security level is below the user's.
    #[error("user {0:?} requires authentication (and privacy if configured)")]
    SecurityLevel(String),
    /// The HMAC did not verify.
    #[error("authentication failed for user {0:?}")]
    AuthFailed(String),
    /// The scoped PDU did not decrypt to BER.
    #[error("decryption failed for user {0:?}")]
    DecryptFailed(String),
}

/// Decodes, authenticates and decrypts a v3 notification.
pub fn decode_v3(buf: &[u8], users: &[UsmUser]) -> Result<Notification, UsmError> {
    let malformed = |e: String| UsmError::Decode(DecodeError::Malformed(e));
    let msg: v3::Message = rasn::ber::decode(buf).map_err(|e| malformed(e.to_string()))?;
    let flags = msg.global_data.flags.first().copied().unwrap_or(0);
    let (auth_flag, priv_flag) = (flags & 0x01 != 0, flags & 0x02 != 0);
    let usm: v3::USMSecurityParameters =
        rasn::ber::decode(&msg.security_parameters).map_err(|e| malformed(format!("USM parameters: {e}")))?;
    let user_name = String::from_utf8_lossy(&usm.user_name).into_owned();
    let user = users
        .iter()
        .find(|u| u.name == user_name && u.engine_id.as_slice() == usm.authoritative_engine_id.as_ref())
        .ok_or_else(|| UsmError::UnknownUser {
            user: user_name.clone(),
            engine_id: hex::encode(&usm.authoritative_engine_id),
        })?;
    if (user.auth.is_some() && !auth_flag)
        || (user.privacy.is_some() && !priv_flag)
        || (priv_flag && user.privacy.is_none())
    {
        return Err(UsmError::SecurityLevel(user_name));
    }
    if let Some((proto, key)) = &user.auth {
        let tag: &[u8] = &usm.authentication_parameters;
        // The MAC covers the whole message with its own field zeroed.
        let pos = memchr::memmem::find(buf, tag)
            .filter(|_| !tag.is_empty())
            .ok_or_else(|| UsmError::AuthFailed(user_name.clone()))?;
        let mut zeroed = buf.to_vec();
        zeroed[pos..pos + tag.len()].fill(0);
        if !verify(*proto, key, &zeroed, tag) {
            return Err(UsmError::AuthFailed(user_name));
        }
    }
    let scoped = match msg.scoped_data {
        v3::ScopedPduData::CleartextPdu(p) => p,
        v3::ScopedPduData::EncryptedPdu(enc) => {
            let (proto, key) = user.privacy.as_ref().ok_or_else(|| UsmError::SecurityLevel(user_name.clone()))?;
            let mut data = enc.to_vec();
            let boots = u32::try_from(&usm.authoritative_engine_boots).unwrap_or(0);
            let time = u32::try_from(&usm.authoritative_engine_time).unwrap_or(0);
            if !decrypt(*proto, key, boots, time, &usm.privacy_parameters, &mut data) {
                return Err(UsmError::DecryptFailed(user_name));
            }
            // DES pads to 8 bytes: decode the leading TLV and ignore the rest.
            let mut decoder = rasn::ber::de::Decoder::new(&data, rasn::ber::de::DecoderOptions::ber());
            <v3::ScopedPdu as rasn::Decode>::decode(&mut decoder)
                .map_err(|_| UsmError::DecryptFailed(user_name.clone()))?
        }
    };
    let mut n = from_v2_pdu(Version::V3, &scoped.data)?;
    n.user = Some(user_name);
    Ok(n)
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
    fn weak_or_inconsistent_users_are_refused() {
        assert!(
            UsmUser::new("u", &ENGINE, Some((AuthProtocol::Sha1, "short")), None).unwrap_err().contains("at least 8")
        );
        assert!(
            UsmUser::new("u", &ENGINE, None, Some((PrivProtocol::Aes128, "longenough")))
                .unwrap_err()
                .contains("authPriv")
        );
        let u = UsmUser::new("u", &ENGINE, Some((AuthProtocol::Sha1, "maplesyrup")), None).unwrap();
        assert!(!format!("{u:?}").contains("9fb5"), "no key in Debug");
    }
}
