//! The emulator's local certificate authority and the server certificates of TLS endpoints.
//!
//! Place in the flow: `server` creates one [`LocalCa`] at start (kept in `--data-dir` when one
//! is set, so clients that trust it keep working across restarts) and hands it to the
//! supervisor. When a cluster or replication group has TransitEncryptionEnabled, the supervisor
//! asks [`LocalCa::server_config`] for every endpoint it binds (nodes, primary, reader and
//! configuration endpoints) and passes the result to the engine or proxy as an
//! `ecl_net::TlsPolicy`. Clients trust the CA from `GET /_elasticache_local/ca.pem` or the file
//! named in the log and `/health`, as they trust Amazon's root CA on AWS.
//!
//! A certificate names the endpoint the way clients reach it: its IP address (every endpoint in
//! `loopback` mode has its own), the advertised host name in `ports` mode, and `localhost` /
//! `127.0.0.1` so local tools verify too. The CA's key identifier is derived from its public
//! key, so a CA reloaded from disk issues certificates that chain to the saved CA certificate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ecl_net::rustls;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// File names of the CA inside `--data-dir`.
const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";

/// Common name of the CA: says what issued a certificate a user finds in a TLS trace.
const CA_COMMON_NAME: &str = "elasticache-local CA";

/// Errors creating, loading or using the CA.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing the CA files.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Generating or parsing keys and certificates.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The saved CA certificate is not a PEM certificate (edited by hand?).
    #[error("CA certificate is not PEM: {0}")]
    Pem(String),
    /// Building the rustls configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The local certificate authority, and the server configurations issued so far (one per set
/// of names, so a rebooted node or a second endpoint on the same address reuses its own).
pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    path: Option<PathBuf>,
    issued: Mutex<HashMap<Vec<String>, Arc<rustls::ServerConfig>>>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, "elasticache-local");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, contents: &str) -> Result<(), TlsError> {
    std::fs::write(path, contents).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl LocalCa {
    /// A CA that lives in memory only (no `--data-dir`): clients download it from the API.
    pub fn ephemeral() -> Result<LocalCa, TlsError> {
        let key = KeyPair::generate()?;
        let cert = ca_params()?.self_signed(&key)?;
        LocalCa::from_parts(key, cert.pem(), None)
    }

    /// The CA kept in `dir`: loaded when `ca.pem` and `ca-key.pem` exist, else created and
    /// saved there (the key readable by its owner only).
    pub fn in_dir(dir: &Path) -> Result<LocalCa, TlsError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if cert_path.exists() && key_path.exists() {
            let key = KeyPair::from_pem(&read(&key_path)?)?;
            return LocalCa::from_parts(key, read(&cert_path)?, Some(cert_path));
        }
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let key = KeyPair::generate()?;
        let cert = ca_params()?.self_signed(&key)?;
        write(&key_path, &key.serialize_pem())?;
        restrict_to_owner(&key_path);
        write(&cert_path, &cert.pem())?;
        LocalCa::from_parts(key, cert.pem(), Some(cert_path))
    }

    fn from_parts(
        key: KeyPair,
        cert_pem: String,
        path: Option<PathBuf>,
    ) -> Result<LocalCa, TlsError> {
        let cert_der = pem_to_der(&cert_pem)?;
        Ok(LocalCa {
            issuer: Issuer::new(ca_params()?, key),
            cert_pem,
            cert_der,
            path,
            issued: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM encoded (what `GET /_elasticache_local/ca.pem` serves).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Where the CA certificate is saved, when it is.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A server configuration whose certificate names `names` (IP addresses or host names),
    /// plus `localhost` and `127.0.0.1`; TLS 1.2 and 1.3 with the ring provider.
    pub fn server_config(&self, names: &[String]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut names: Vec<String> = names.to_vec();
        names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
        names.sort();
        names.dedup();
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(config) = issued.get(&names) {
            return Ok(config.clone());
        }
        let (chain, key) = self.issue(&names)?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        let config = Arc::new(config);
        issued.insert(names, config.clone());
        Ok(config)
    }

    /// A client configuration trusting this CA only (proxies use it to reach TLS nodes).
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone())?;
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// A leaf certificate for `names`, signed by the CA, with the chain clients are sent.
    fn issue(
        &self,
        names: &[String],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names[0].as_str());
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.cert_der.clone()], key_der))
    }
}

/// The ring provider, the project's choice (no C toolchain, small build). rustls 0.23.48
/// deprecates it for lacking post-quantum key exchange, which protects nothing on a loopback
/// connection to a local emulator.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_to_der(pem: &str) -> Result<CertificateDer<'static>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsError::Pem(e.to_string()))
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) {}

#[cfg(test)]
mod tests;
