//! Customer accounts: the rules, independent of storage and HTTP.

use argon2::password_hash::{SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};

/// An email address, trimmed and lower-cased so that one mailbox is one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        // Lengths in characters, as the API's published schema counts them.
        let valid = email.chars().count() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.chars().count() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            Err(format!("{raw:?} is not a valid email address."))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed. Bounded above so that hashing cannot be used to burn CPU.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(raw: String) -> Result<Self, String> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(format!(
                "The password must have at least {} characters.",
                Self::MIN_CHARS
            ));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(format!(
                "The password must be at most {} bytes.",
                Self::MAX_BYTES
            ));
        }
        Ok(Self(raw))
    }

    /// An argon2id PHC string with a fresh random salt.
    pub fn hash(&self) -> Result<String, String> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| error.to_string())
    }

    /// Checks the password against a stored PHC string.
    pub fn matches(&self, phc: &str) -> bool {
        PasswordHash::new(phc).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(self.0.as_bytes(), &hash)
                .is_ok()
        })
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Checking a password against this costs what a real check costs, so a login for an
/// unknown email takes as long as one with a wrong password and reveals nothing.
pub const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3gZ1nY3i7iC5Kq7pEc0cY3k4mNpqrMiM1fVvjG4w7aI";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Customer,
    Admin,
}

/// A customer as other services see it: never the password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub email: Email,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<String>,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
}

/// A customer as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerRecord {
    #[serde(flatten)]
    pub customer: Customer,
    pub password_hash: String,
}

/// A validated profile change; at least one field is set.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub shipping_address: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for raw in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "ada lovelace@example.com",
            "ada@.example.com",
            "ada@example..com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn passwords_are_bounded() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("x".repeat(Password::MAX_BYTES + 1)).is_err());
        assert!(Password::parse("long enough".into()).is_ok());
    }

    #[test]
    fn a_hash_matches_its_password_only() {
        let password = Password::parse("correct horse".into()).expect("valid");
        let hash = password.hash().expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(password.matches(&hash));
        let other = Password::parse("battery staple".into()).expect("valid");
        assert!(!other.matches(&hash));
        assert!(!password.matches("not a phc string"));
    }

    #[test]
    fn the_decoy_hash_is_well_formed_and_matches_nothing_plausible() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        let password = Password::parse("password".into()).expect("valid");
        assert!(!password.matches(DECOY_HASH));
    }
}
