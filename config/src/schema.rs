use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use crate::error::ConfigError;
use crate::layers::{Layer, RawValue};

/// The effective, validated configuration of one Troupe node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Config {
    pub http_listen: SocketAddr,
    pub webrtc_port: u16,
    pub webrtc_listen_ip: IpAddr,
    pub announced_address: String,
    pub rtp_port_range: PortRange,
    #[serde(serialize_with = "redacted")]
    pub api_token: Option<String>,
    pub etcd_endpoints: Vec<String>,
    pub cluster: String,
    #[serde(serialize_with = "redacted")]
    pub cluster_secret: Option<String>,
    pub control_listen: SocketAddr,
    pub node_id: String,
    pub region: String,
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: OtlpProtocol,
    pub ffmpeg: String,
    pub recordings_dir: PathBuf,
    pub dtls_certificate: Option<PathBuf>,
    pub dtls_private_key: Option<PathBuf>,
    /// Signs room tokens; `None`: derived from `cluster_secret` (so every
    /// node of a cluster accepts every node's tokens), else random at start.
    #[serde(serialize_with = "redacted")]
    pub token_secret: Option<String>,
    /// HTTPS for the API, the demo and the WebSockets (PEM files).
    pub tls_certificate: Option<PathBuf>,
    pub tls_private_key: Option<PathBuf>,
    /// The control link's TLS certificate (PEM files); self-signed at
    /// start when absent. Peers pin its fingerprint either way.
    pub control_certificate: Option<PathBuf>,
    pub control_private_key: Option<PathBuf>,
    pub ice_consent_timeout_secs: u64,
    pub etcd_lease_ttl_secs: u64,
    pub drain_timeout_secs: u64,
    pub demo_dir: PathBuf,
    pub log: String,
}

/// How OTLP reaches the collector (OpenTelemetry's
/// `OTEL_EXPORTER_OTLP_PROTOCOL` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OtlpProtocol {
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    #[serde(rename = "grpc")]
    Grpc,
}

fn redacted<S: serde::Serializer>(token: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match token {
        Some(_) => s.serialize_str("<redacted>"),
        None => s.serialize_none(),
    }
}

/// An inclusive range of UDP ports, written `LOW-HIGH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    pub fn len(&self) -> usize {
        usize::from(self.high - self.low) + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

impl Serialize for PortRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (low, high) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not a range LOW-HIGH"))?;
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port number"))
        };
        let (low, high) = (port(low)?, port(high)?);
        if low == 0 {
            return Err("port 0 cannot start a range".into());
        }
        if low > high {
            return Err(format!("low port {low} is above high port {high}"));
        }
        Ok(PortRange { low, high })
    }
}

/// Reads one field of a layer, as text whatever its source was.
struct FieldReader<'a> {
    layer: &'a Layer,
}

impl FieldReader<'_> {
    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.layer.get(key) {
            None => Ok(None),
            Some(RawValue::Text(t)) => Ok(Some(t.trim().to_string())),
            Some(RawValue::Structured(v)) => match v {
                serde_json::Value::String(s) => Ok(Some(s.trim().to_string())),
                serde_json::Value::Number(n) => Ok(Some(n.to_string())),
                serde_json::Value::Bool(b) => Ok(Some(b.to_string())),
                serde_json::Value::Null => Ok(None),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => Err(
                    ConfigError::field(key, "expected a single value, found a list or table"),
                ),
            },
        }
    }

    fn parsed<T: FromStr>(&self, key: &str, default: T, what: &str) -> Result<T, ConfigError> {
        match self.text(key)? {
            None => Ok(default),
            Some(t) => t
                .parse()
                .map_err(|_| ConfigError::field(key, format!("{t:?} is not {what}"))),
        }
    }

    fn optional_text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.text(key)?.filter(|t| !t.is_empty()))
    }

    fn list(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        let items: Vec<String> = match self.layer.get(key) {
            Some(RawValue::Structured(serde_json::Value::Array(items))) => items
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s.trim().to_string()),
                    _ => Err(ConfigError::field(key, "every item must be a string")),
                })
                .collect::<Result<_, _>>()?,
            _ => self
                .text(key)?
                .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default(),
        };
        Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
    }
}

fn check_name(key: &str, value: &str) -> Result<(), ConfigError> {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::field(
            key,
            format!("{value:?} must be 1-63 characters of letters, digits, '-', '_' or '.'"),
        ))
    }
}

fn existing_file(key: &str, path: Option<String>) -> Result<Option<PathBuf>, ConfigError> {
    match path {
        None => Ok(None),
        Some(p) => {
            let path = PathBuf::from(&p);
            if path.is_file() {
                Ok(Some(path))
            } else {
                Err(ConfigError::field(
                    key,
                    format!("file {p:?} does not exist"),
                ))
            }
        }
    }
}

fn random_node_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("node-{}", &id[..8])
}

impl Default for Config {
    fn default() -> Self {
        Config::from_layer(&Layer::default()).expect("the defaults are valid")
    }
}

impl Config {
    /// Validates a merged layer into a configuration; unset fields take their
    /// defaults.
    pub fn from_layer(layer: &Layer) -> Result<Config, ConfigError> {
        let r = FieldReader { layer };
        let http_listen: SocketAddr = r.parsed(
            "http_listen",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "an address IP:PORT",
        )?;
        let webrtc_port: u16 = r.parsed("webrtc_port", 40000, "a port number")?;
        let webrtc_listen_ip: IpAddr = r.parsed(
            "webrtc_listen_ip",
            IpAddr::from([127, 0, 0, 1]),
            "an IP address",
        )?;
        let announced_address = match r.optional_text("announced_address")? {
            None => webrtc_listen_ip.to_string(),
            Some(a) if a.parse::<IpAddr>().is_ok() || is_host_name(&a) => a,
            Some(a) => {
                return Err(ConfigError::field(
                    "announced_address",
                    format!("{a:?} is neither an IP address nor a host name"),
                ))
            }
        };
        if webrtc_listen_ip.is_unspecified() && announced_address == webrtc_listen_ip.to_string() {
            return Err(ConfigError::field(
                "announced_address",
                format!("required when webrtc_listen_ip is {webrtc_listen_ip}: clients cannot reach an unspecified address"),
            ));
        }
        let rtp_port_range = match r.text("rtp_port_range")? {
            None => PortRange {
                low: 40100,
                high: 40999,
            },
            Some(t) => t
                .parse()
                .map_err(|e: String| ConfigError::field("rtp_port_range", e))?,
        };
        let api_token = r.optional_text("api_token")?;
        if !http_listen.ip().is_loopback() && api_token.is_none() {
            return Err(ConfigError::field(
                "api_token",
                format!("required because http_listen {http_listen} is not a loopback address"),
            ));
        }
        let etcd_endpoints = r.list("etcd_endpoints")?;
        for endpoint in &etcd_endpoints {
            if !endpoint.contains(':') {
                return Err(ConfigError::field(
                    "etcd_endpoints",
                    format!("{endpoint:?} needs a port (HOST:PORT or http://HOST:PORT)"),
                ));
            }
        }
        let cluster = r
            .optional_text("cluster")?
            .unwrap_or_else(|| "troupe".into());
        check_name("cluster", &cluster)?;
        let cluster_secret = r.optional_text("cluster_secret")?;
        if !etcd_endpoints.is_empty() && cluster_secret.is_none() {
            return Err(ConfigError::field(
                "cluster_secret",
                "required when etcd_endpoints is set: nodes prove it to each other",
            ));
        }
        let control_listen: SocketAddr = r.parsed(
            "control_listen",
            SocketAddr::from(([127, 0, 0, 1], 0)),
            "an address IP:PORT",
        )?;
        let node_id = r.optional_text("node_id")?.unwrap_or_else(random_node_id);
        check_name("node_id", &node_id)?;
        let region = r
            .optional_text("region")?
            .unwrap_or_else(|| "default".into());
        check_name("region", &region)?;
        let otlp_endpoint = r.optional_text("otlp_endpoint")?;
        if let Some(e) = &otlp_endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(ConfigError::field(
                    "otlp_endpoint",
                    format!("{e:?} must start with http:// or https://"),
                ));
            }
        }
        let otlp_protocol = match r.optional_text("otlp_protocol")?.as_deref() {
            None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("grpc") => OtlpProtocol::Grpc,
            Some(other) => {
                return Err(ConfigError::field(
                    "otlp_protocol",
                    format!("{other:?} is not http/protobuf or grpc"),
                ))
            }
        };
        let ffmpeg = r
            .optional_text("ffmpeg")?
            .unwrap_or_else(|| "ffmpeg".into());
        let recordings_dir = PathBuf::from(
            r.optional_text("recordings_dir")?
                .unwrap_or_else(|| "./recordings".into()),
        );
        let (dtls_certificate, dtls_private_key) =
            pem_pair(&r, "dtls_certificate", "dtls_private_key")?;
        let token_secret = r.optional_text("token_secret")?;
        if token_secret.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(ConfigError::field(
                "token_secret",
                "at least 16 characters: it is all that stands between a guess and a room",
            ));
        }
        let (tls_certificate, tls_private_key) =
            pem_pair(&r, "tls_certificate", "tls_private_key")?;
        let (control_certificate, control_private_key) =
            pem_pair(&r, "control_certificate", "control_private_key")?;
        let ice_consent_timeout_secs: u64 =
            r.parsed("ice_consent_timeout_secs", 30, "a number of seconds")?;
        if ice_consent_timeout_secs == 0 {
            return Err(ConfigError::field(
                "ice_consent_timeout_secs",
                "must be at least 1",
            ));
        }
        let etcd_lease_ttl_secs: u64 = r.parsed("etcd_lease_ttl_secs", 3, "a number of seconds")?;
        if !(1..=3600).contains(&etcd_lease_ttl_secs) {
            return Err(ConfigError::field(
                "etcd_lease_ttl_secs",
                "must be between 1 and 3600",
            ));
        }
        let drain_timeout_secs: u64 = r.parsed("drain_timeout_secs", 0, "a number of seconds")?;
        let demo_dir = PathBuf::from(
            r.optional_text("demo_dir")?
                .unwrap_or_else(|| "demo".into()),
        );
        let log = r.optional_text("log")?.unwrap_or_else(|| "info".into());
        Ok(Config {
            http_listen,
            webrtc_port,
            webrtc_listen_ip,
            announced_address,
            rtp_port_range,
            api_token,
            etcd_endpoints,
            cluster,
            cluster_secret,
            control_listen,
            node_id,
            region,
            otlp_endpoint,
            otlp_protocol,
            ffmpeg,
            recordings_dir,
            dtls_certificate,
            dtls_private_key,
            token_secret,
            tls_certificate,
            tls_private_key,
            control_certificate,
            control_private_key,
            ice_consent_timeout_secs,
            etcd_lease_ttl_secs,
            drain_timeout_secs,
            demo_dir,
            log,
        })
    }

    /// The configuration as a TOML document (the token redacted).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// A certificate and its private key, given together or not at all.
fn pem_pair(
    r: &FieldReader<'_>,
    certificate_key: &'static str,
    private_key_key: &'static str,
) -> Result<(Option<PathBuf>, Option<PathBuf>), ConfigError> {
    let certificate = existing_file(certificate_key, r.optional_text(certificate_key)?)?;
    let private_key = existing_file(private_key_key, r.optional_text(private_key_key)?)?;
    match (&certificate, &private_key) {
        (Some(_), None) => Err(ConfigError::field(
            private_key_key,
            format!("required when {certificate_key} is set"),
        )),
        (None, Some(_)) => Err(ConfigError::field(
            certificate_key,
            format!("required when {private_key_key} is set"),
        )),
        _ => Ok((certificate, private_key)),
    }
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests;
