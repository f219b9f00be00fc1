/// One configuration setting as operators see it: the key in a config file,
/// the environment variable and the command-line flag. The names are part of
/// Troupe's contract (DESIGN §6).
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub key: &'static str,
    pub help: &'static str,
    pub default: &'static str,
}

impl FieldSpec {
    pub fn env(&self) -> String {
        env_name(self.key)
    }
    pub fn flag(&self) -> String {
        flag_name(self.key)
    }
}

pub fn env_name(key: &str) -> String {
    format!("TROUPE_{}", key.to_ascii_uppercase())
}

pub fn flag_name(key: &str) -> String {
    match key {
        // The contract names this flag after the service, not the field.
        "etcd_endpoints" => "etcd".to_string(),
        _ => key.replace('_', "-"),
    }
}

pub fn key_for_env(env: &str) -> Option<&'static str> {
    FIELDS.iter().find(|f| f.env() == env).map(|f| f.key)
}

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        key: "http_listen",
        help: "HTTP API and demo page bind address",
        default: "127.0.0.1:8080",
    },
    FieldSpec {
        key: "webrtc_port",
        help: "UDP and TCP port shared by all WebRTC transports",
        default: "40000",
    },
    FieldSpec {
        key: "webrtc_listen_ip",
        help: "IP the WebRTC port is bound to",
        default: "127.0.0.1",
    },
    FieldSpec {
        key: "announced_address",
        help: "address put in ICE candidates (IP or host name)",
        default: "the listen IP",
    },
    FieldSpec {
        key: "rtp_port_range",
        help: "port range for plain and pipe transports, LOW-HIGH",
        default: "40100-40999",
    },
    FieldSpec {
        key: "api_token",
        help: "API bearer token (required when the API is bound off loopback)",
        default: "none",
    },
    FieldSpec {
        key: "etcd_endpoints",
        help: "etcd endpoints, comma separated (empty = standalone)",
        default: "",
    },
    FieldSpec {
        key: "cluster",
        help: "cluster name, the etcd key prefix",
        default: "troupe",
    },
    FieldSpec {
        key: "cluster_secret",
        help: "shared secret nodes prove to each other (required with etcd)",
        default: "none",
    },
    FieldSpec {
        key: "control_listen",
        help: "node-to-node control bind address (port 0: any free port)",
        default: "127.0.0.1:0",
    },
    FieldSpec {
        key: "node_id",
        help: "this node's id",
        default: "random",
    },
    FieldSpec {
        key: "region",
        help: "this node's region",
        default: "default",
    },
    FieldSpec {
        key: "otlp_protocol",
        help: "OTLP transport: http/protobuf (port 4318) or grpc (port 4317)",
        default: "http/protobuf",
    },
    FieldSpec {
        key: "otlp_endpoint",
        help: "OpenTelemetry collector for traces and metrics (empty = off)",
        default: "",
    },
    FieldSpec {
        key: "ffmpeg",
        help: "ffmpeg binary used for recordings",
        default: "ffmpeg",
    },
    FieldSpec {
        key: "recordings_dir",
        help: "directory recordings are written to",
        default: "./recordings",
    },
    FieldSpec {
        key: "dtls_certificate",
        help: "PEM certificate for DTLS (generated at start when unset)",
        default: "",
    },
    FieldSpec {
        key: "dtls_private_key",
        help: "PEM private key for dtls_certificate",
        default: "",
    },
    FieldSpec {
        key: "token_secret",
        help: "secret that signs room tokens (derived from cluster_secret, else random at start)",
        default: "derived",
    },
    FieldSpec {
        key: "tls_certificate",
        help: "PEM certificate: serve the API, demo and WebSockets over HTTPS",
        default: "",
    },
    FieldSpec {
        key: "tls_private_key",
        help: "PEM private key for tls_certificate",
        default: "",
    },
    FieldSpec {
        key: "control_certificate",
        help: "PEM certificate of the control link's TLS (self-signed at start when unset)",
        default: "",
    },
    FieldSpec {
        key: "control_private_key",
        help: "PEM private key for control_certificate",
        default: "",
    },
    FieldSpec {
        key: "ice_consent_timeout_secs",
        help: "seconds without ICE consent before a transport is disconnected",
        default: "30",
    },
    FieldSpec {
        key: "etcd_lease_ttl_secs",
        help: "etcd lease TTL in seconds",
        default: "3",
    },
    FieldSpec {
        key: "drain_timeout_secs",
        help: "on SIGTERM, seconds to wait for sessions to end before closing them",
        default: "0",
    },
    FieldSpec {
        key: "demo_dir",
        help: "directory of the demo page (index.html and dist/app.js)",
        default: "demo",
    },
    FieldSpec {
        key: "log",
        help: "log filter (tracing EnvFilter syntax; RUST_LOG wins)",
        default: "info",
    },
];
