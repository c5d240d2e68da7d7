//! Static AWS catalogue data: engine versions and their parameter-group families, engine
//! default parameters per family, node types (vCPUs, memory).
//!
//! Place in the flow: handlers ask the catalogue to resolve what a request names (an engine
//! version, a node type, a family) before they touch `state`; `state` clones a family's
//! defaults into new parameter groups. The data is our own JSON under `api-models/catalog/`,
//! embedded at compile time, parsed once on first use.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

mod version;

pub use version::{compare_versions, parse_version};

/// One engine version users can create clusters with.
#[derive(Clone, Debug, Deserialize)]
pub struct EngineVersion {
    /// `memcached`, `redis` or `valkey`.
    pub engine: String,
    /// The version users pass and DescribeCacheEngineVersions lists (`7.1`, `1.6.22`).
    pub version: String,
    /// The version clusters report (`7.1.0`): the patch level the engine runs.
    pub full_version: String,
    /// Parameter-group family (`redis7`).
    pub family: String,
    /// `CacheEngineDescription` (`Redis`, `Valkey`, `memcached`).
    pub engine_description: String,
    /// `CacheEngineVersionDescription` (`redis version 7.1.0`).
    pub version_description: String,
}

/// The definition of one engine parameter in a family.
#[derive(Clone, Debug, Deserialize)]
pub struct ParameterDef {
    /// Parameter name as AWS spells it.
    pub name: String,
    /// Engine default value (may be empty).
    pub value: String,
    /// Human description.
    pub description: String,
    /// `string`, `integer`, `boolean`, `float`.
    pub data_type: String,
    /// AWS allowed-values expression (`yes,no`, `0-`, `1-100`, `0,20-`), if constrained.
    #[serde(default)]
    pub allowed_values: Option<String>,
    /// Whether users may change it in their own groups.
    pub modifiable: bool,
    /// `immediate` or `requires-reboot`.
    pub change_type: String,
    /// Oldest engine version the parameter applies to.
    pub minimum_engine_version: String,
}

/// Which node-type column a node-type-specific parameter takes its value from.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NodeColumn {
    /// Redis/Valkey `maxmemory` in bytes.
    Maxmemory,
    /// 10 % of `maxmemory` (replica output buffer limits).
    ReplicaLimit,
    /// Memcached `max_cache_memory` in megabytes.
    MemcachedMb,
    /// Memcached `num_threads`.
    Threads,
}

/// A parameter whose value depends on the node type (`CacheNodeTypeSpecificParameters`).
#[derive(Clone, Debug, Deserialize)]
pub struct NodeTypeParameterDef {
    /// Parameter name.
    pub name: String,
    /// Node-type column the values come from.
    pub source_column: NodeColumn,
    /// Human description.
    pub description: String,
    /// Data type.
    pub data_type: String,
    /// Whether users may change it.
    pub modifiable: bool,
    /// `immediate` or `requires-reboot`.
    pub change_type: String,
    /// Oldest engine version the parameter applies to.
    pub minimum_engine_version: String,
}

/// A parameter-group family (`redis7`, `memcached1.6`) and its engine defaults.
#[derive(Clone, Debug, Deserialize)]
pub struct Family {
    /// Engine of the family.
    pub engine: String,
    /// Engine name used in default group descriptions.
    pub description_engine: String,
    /// Whether a `default.<family>.cluster.on` group exists.
    pub cluster_on_variant: bool,
    /// Engine default parameters, sorted by name.
    pub parameters: Vec<ParameterDef>,
    /// Node-type specific parameters.
    pub node_type_specific: Vec<NodeTypeParameterDef>,
}

impl Family {
    /// The definition of `name`, if the family has such a parameter.
    pub fn parameter(&self, name: &str) -> Option<&ParameterDef> {
        self.parameters
            .binary_search_by(|p| p.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.parameters[i])
    }

    /// The node-type specific definition of `name`, if any.
    pub fn node_type_parameter(&self, name: &str) -> Option<&NodeTypeParameterDef> {
        self.node_type_specific.iter().find(|p| p.name == name)
    }
}

/// One cache node type.
#[derive(Clone, Debug, Deserialize)]
pub struct NodeType {
    /// `cache.t3.micro`.
    pub name: String,
    /// vCPUs (Memcached threads for current types).
    pub vcpus: u32,
    /// Published memory in GiB.
    pub memory_gib: f64,
    /// Redis/Valkey `maxmemory` default in bytes.
    pub redis_maxmemory: u64,
    /// Memcached `max_cache_memory` in MB; `None` when Memcached does not support the type.
    pub memcached_max_cache_memory_mb: Option<u64>,
    /// Memcached `num_threads`.
    pub memcached_num_threads: Option<u32>,
    /// Previous-generation type.
    pub previous_generation: bool,
    /// Whether AWS still lets users create nodes of this type.
    pub creatable: bool,
    /// r6gd data-tiering type (Redis/Valkey only).
    pub data_tiering: bool,
}

impl NodeType {
    /// Whether clusters of `engine` can use this type.
    pub fn supports(&self, engine: &str) -> bool {
        engine != "memcached" || self.memcached_max_cache_memory_mb.is_some()
    }

    /// The node memory in bytes for `engine` (what a `NodeSpec` carries).
    pub fn memory_bytes(&self, engine: &str) -> u64 {
        match (engine, self.memcached_max_cache_memory_mb) {
            ("memcached", Some(mb)) => mb * 1024 * 1024,
            _ => self.redis_maxmemory,
        }
    }

    /// Value of a node-type column, as the API reports it.
    pub fn column(&self, column: NodeColumn) -> Option<String> {
        match column {
            NodeColumn::Maxmemory => Some(self.redis_maxmemory.to_string()),
            NodeColumn::ReplicaLimit => Some((self.redis_maxmemory / 10).to_string()),
            NodeColumn::MemcachedMb => self.memcached_max_cache_memory_mb.map(|v| v.to_string()),
            NodeColumn::Threads => self.memcached_num_threads.map(|v| v.to_string()),
        }
    }
}

/// The whole catalogue.
#[derive(Debug)]
pub struct Catalog {
    versions: Vec<EngineVersion>,
    families: BTreeMap<String, Family>,
    node_types: Vec<NodeType>,
}

/// Why the embedded catalogue could not be parsed (a build defect; tests catch it).
#[derive(Debug, thiserror::Error)]
#[error("catalogue file {file} is invalid: {source}")]
pub struct CatalogError {
    file: &'static str,
    source: serde_json::Error,
}

const ENGINE_VERSIONS_JSON: &str = include_str!("../../api-models/catalog/engine_versions.json");
const FAMILIES_JSON: &str = include_str!("../../api-models/catalog/parameter_families.json");
const NODE_TYPES_JSON: &str = include_str!("../../api-models/catalog/node_types.json");

static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// The process-wide catalogue. The data is embedded and checked by the unit tests, so a parse
/// failure can only be a build defect; it degrades to an empty catalogue (every lookup then
/// fails with the ordinary "unknown" API errors) and is logged, instead of panicking.
pub fn catalog() -> &'static Catalog {
    CATALOG.get_or_init(|| match Catalog::load() {
        Ok(c) => c,
        Err(err) => {
            tracing::error!(%err, "embedded catalogue is invalid");
            Catalog {
                versions: Vec::new(),
                families: BTreeMap::new(),
                node_types: Vec::new(),
            }
        }
    })
}

impl Catalog {
    /// Parses the embedded JSON files.
    pub fn load() -> Result<Catalog, CatalogError> {
        let versions =
            serde_json::from_str(ENGINE_VERSIONS_JSON).map_err(|source| CatalogError {
                file: "engine_versions.json",
                source,
            })?;
        let mut families: BTreeMap<String, Family> =
            serde_json::from_str(FAMILIES_JSON).map_err(|source| CatalogError {
                file: "parameter_families.json",
                source,
            })?;
        for fam in families.values_mut() {
            fam.parameters.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let node_types = serde_json::from_str(NODE_TYPES_JSON).map_err(|source| CatalogError {
            file: "node_types.json",
            source,
        })?;
        Ok(Catalog {
            versions,
            families,
            node_types,
        })
    }

    /// Every engine version, in catalogue order (engine, then ascending version).
    pub fn engine_versions(&self) -> &[EngineVersion] {
        &self.versions
    }

    /// Whether `engine` (lower-case) is an engine we know.
    pub fn is_engine(&self, engine: &str) -> bool {
        self.versions.iter().any(|v| v.engine == engine)
    }

    /// The newest version of `engine`.
    pub fn newest(&self, engine: &str) -> Option<&EngineVersion> {
        self.versions
            .iter()
            .filter(|v| v.engine == engine)
            .max_by(|a, b| compare_versions(&a.full_version, &b.full_version))
    }

    /// Resolves a requested version: the listed form (`7.1`), the full form (`7.1.0`), or a
    /// major wildcard (`6.x`, which picks the newest 6 release as AWS does). `None` means the
    /// newest version of the engine.
    pub fn resolve_version(&self, engine: &str, requested: Option<&str>) -> Option<&EngineVersion> {
        let Some(req) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
            return self.newest(engine);
        };
        let of_engine = || self.versions.iter().filter(move |v| v.engine == engine);
        if let Some(v) = of_engine().find(|v| v.version == req || v.full_version == req) {
            return Some(v);
        }
        if let Some(major) = req.strip_suffix(".x") {
            return of_engine()
                .filter(|v| v.version.split('.').next() == Some(major))
                .max_by(|a, b| compare_versions(&a.full_version, &b.full_version));
        }
        None
    }

    /// The family `name`.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.get(name)
    }

    /// Every family name, sorted.
    pub fn family_names(&self) -> impl Iterator<Item = &str> {
        self.families.keys().map(String::as_str)
    }

    /// Every node type.
    pub fn node_types(&self) -> &[NodeType] {
        &self.node_types
    }

    /// The node type `name`.
    pub fn node_type(&self, name: &str) -> Option<&NodeType> {
        self.node_types.iter().find(|n| n.name == name)
    }

    /// The default parameter groups AWS pre-creates in every region: `(name, family, description,
    /// cluster_enabled)`.
    pub fn default_parameter_groups(&self) -> Vec<(String, String, String, bool)> {
        let mut out = Vec::new();
        for (name, fam) in &self.families {
            out.push((
                format!("default.{name}"),
                name.clone(),
                format!("Default parameter group for {name}"),
                false,
            ));
            if fam.cluster_on_variant {
                out.push((
                    format!("default.{name}.cluster.on"),
                    name.clone(),
                    format!("Customized default parameter group for {name} with cluster mode on"),
                    true,
                ));
            }
        }
        out
    }

    /// Node-type values of a node-type specific parameter: one `(node type, value)` per node
    /// type that supports the family's engine.
    pub fn node_type_values(
        &self,
        engine: &str,
        def: &NodeTypeParameterDef,
    ) -> Vec<(String, String)> {
        self.node_types
            .iter()
            .filter(|n| n.supports(engine))
            .filter_map(|n| n.column(def.source_column).map(|v| (n.name.clone(), v)))
            .collect()
    }
}

/// Whether `value` satisfies an AWS allowed-values expression such as `yes,no`, `0-`,
/// `1-100`, `0,20-` or `-5,-4,-3,-2,-1,1-`. Numeric ranges apply to integer data types;
/// anything else is a comma list of literals.
pub fn value_allowed(def: &ParameterDef, value: &str) -> bool {
    let Some(allowed) = def.allowed_values.as_deref().filter(|a| !a.is_empty()) else {
        return true;
    };
    let numeric = matches!(def.data_type.as_str(), "integer" | "float");
    if numeric && value.trim().parse::<f64>().is_err() {
        return false;
    }
    for item in allowed.split(',') {
        let item = item.trim();
        if numeric {
            if value
                .trim()
                .parse::<f64>()
                .is_ok_and(|v| range_contains(item, v))
            {
                return true;
            }
        } else if item == value {
            return true;
        }
    }
    false
}

/// `a-b`, `a-` or a single number; a leading `-` is a sign.
fn range_contains(item: &str, v: f64) -> bool {
    let (sign, rest) = match item.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, item),
    };
    match rest.split_once('-') {
        Some((lo, hi)) => {
            let Ok(lo) = lo.parse::<f64>() else {
                return false;
            };
            let lo = sign * lo;
            if hi.is_empty() {
                v >= lo
            } else {
                hi.parse::<f64>().is_ok_and(|hi| v >= lo && v <= hi)
            }
        }
        None => rest
            .parse::<f64>()
            .is_ok_and(|n| (sign * n - v).abs() < f64::EPSILON),
    }
}

#[cfg(test)]
mod tests;
