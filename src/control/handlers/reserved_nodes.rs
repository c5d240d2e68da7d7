//! DescribeReservedCacheNodesOfferings, PurchaseReservedCacheNodesOffering and
//! DescribeReservedCacheNodes.
//!
//! Place in the flow: the offerings are computed from the node-type catalogue
//! (`crate::catalog`): every creatable node type, for each product (`redis`, `valkey`,
//! `memcached`), term (1 or 3 years) and payment option (`No Upfront`, `Partial Upfront`,
//! `All Upfront`), with a price derived from the type's memory and vCPUs and a deterministic
//! offering id. A purchase is stored in `Region::reserved_nodes`; it reads `payment-pending`
//! for `Config.create_delay` (at least one second), then `active`, and is taggable by its
//! `reserved-instance:<id>` ARN. Reservations change no billing or node: there is none.

use time::OffsetDateTime;

use crate::catalog::{NodeType, catalog};
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{Region, ReservedNodeRecord, ResourceKind, lock};

use super::Service;
use super::common::*;

/// Reserved nodes an account may hold in a region (nodes, not purchases).
pub const MAX_RESERVED_NODES: i32 = 300;

const YEAR: i32 = 31_536_000;
const PRODUCTS: [&str; 3] = ["redis", "valkey", "memcached"];
const OFFERING_TYPES: [&str; 3] = ["No Upfront", "Partial Upfront", "All Upfront"];
/// Every value AWS accepts for `OfferingType` (the utilization kinds are of older offerings
/// this emulator does not list).
const KNOWN_OFFERING_TYPES: [&str; 6] = [
    "No Upfront",
    "Partial Upfront",
    "All Upfront",
    "Light Utilization",
    "Medium Utilization",
    "Heavy Utilization",
];

/// One offering.
#[derive(Clone, Debug)]
struct Offering {
    id: String,
    node_type: String,
    duration: i32,
    product: &'static str,
    offering_type: &'static str,
    fixed: f64,
    hourly: f64,
}

/// FNV-1a over `bytes` with a seed: stable ids across runs and processes.
fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A UUID-shaped id of the offering (AWS offering ids are UUIDs).
fn offering_id(node_type: &str, product: &str, years: i32, kind: &str) -> String {
    let key = format!("{node_type}|{product}|{years}|{kind}");
    let a = fnv(0xcbf2_9ce4_8422_2325, key.as_bytes());
    let b = fnv(a ^ 0x9e37_79b9_7f4a_7c15, key.as_bytes());
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The offering of one (type, product, term, payment option); `None` when the product does
/// not run on the type.
fn offering(
    t: &NodeType,
    product: &'static str,
    years: i32,
    kind: &'static str,
) -> Option<Offering> {
    let engine = if product == "memcached" {
        "memcached"
    } else {
        "redis"
    };
    if !t.supports(engine) {
        return None;
    }
    // On-demand hourly price from memory and vCPUs (roughly AWS's us-east-1 curve); Valkey
    // costs 20% less, as on AWS.
    let mut on_demand = 0.0135 * t.memory_gib + 0.006 * f64::from(t.vcpus);
    if product == "valkey" {
        on_demand *= 0.8;
    }
    let discount = match (years, kind) {
        (1, "No Upfront") => 0.30,
        (1, "Partial Upfront") => 0.35,
        (1, _) => 0.38,
        (_, "No Upfront") => 0.45,
        (_, "Partial Upfront") => 0.50,
        _ => 0.55,
    };
    let hours = f64::from(years) * 8760.0;
    let total = on_demand * (1.0 - discount) * hours;
    let (fixed, hourly) = match kind {
        "No Upfront" => (0.0, total / hours),
        "Partial Upfront" => (round2(total / 2.0), total / 2.0 / hours),
        _ => (round2(total), 0.0),
    };
    Some(Offering {
        id: offering_id(&t.name, product, years, kind),
        node_type: t.name.clone(),
        duration: years * YEAR,
        product,
        offering_type: kind,
        fixed,
        hourly: (hourly * 1000.0).round() / 1000.0,
    })
}

/// Every offering, in node-type catalogue order.
fn offerings() -> Vec<Offering> {
    let mut out = Vec::new();
    for t in catalog().node_types().iter().filter(|t| t.creatable) {
        for product in PRODUCTS {
            for years in [1, 3] {
                for kind in OFFERING_TYPES {
                    out.extend(offering(t, product, years, kind));
                }
            }
        }
    }
    out
}

/// The filters shared by both Describe operations, checked.
struct Filter {
    offering_id: Option<String>,
    node_type: Option<String>,
    duration: Option<i32>,
    product: Option<String>,
    offering_type: Option<String>,
}

impl Filter {
    fn of(
        offering_id: Option<&String>,
        node_type: Option<&String>,
        duration: Option<&String>,
        product: Option<&String>,
        offering_type: Option<&String>,
    ) -> Result<Filter, ApiError> {
        let duration = match duration.map(|d| d.trim()) {
            None => None,
            Some("1") => Some(YEAR),
            Some("3") => Some(3 * YEAR),
            Some(d) if d == YEAR.to_string() || d == (3 * YEAR).to_string() => d.parse().ok(),
            Some(d) => {
                return Err(invalid(format!(
                    "Invalid value for Duration: {d}. Valid values are 1, 3, 31536000, 94608000."
                )));
            }
        };
        if let Some(kind) = offering_type
            && !KNOWN_OFFERING_TYPES.contains(&kind.as_str())
        {
            return Err(invalid(format!(
                "Invalid value for OfferingType: {kind}. Valid values are: {}.",
                KNOWN_OFFERING_TYPES.join(", ")
            )));
        }
        Ok(Filter {
            offering_id: offering_id.map(|s| s.trim().to_ascii_lowercase()),
            node_type: node_type.cloned(),
            duration,
            product: product.map(|p| p.trim().to_ascii_lowercase()),
            offering_type: offering_type.cloned(),
        })
    }

    fn keeps(
        &self,
        offering_id: &str,
        node_type: &str,
        duration: i32,
        product: &str,
        kind: &str,
    ) -> bool {
        self.offering_id.as_deref().is_none_or(|o| o == offering_id)
            && self.node_type.as_deref().is_none_or(|t| t == node_type)
            && self.duration.is_none_or(|d| d == duration)
            && self.product.as_deref().is_none_or(|p| p == product)
            && self.offering_type.as_deref().is_none_or(|k| k == kind)
    }
}

fn recurring(hourly: f64) -> Vec<RecurringCharge> {
    if hourly > 0.0 {
        vec![RecurringCharge {
            recurring_charge_amount: Some(hourly),
            recurring_charge_frequency: Some("Hourly".to_string()),
        }]
    } else {
        Vec::new()
    }
}

/// DescribeReservedCacheNodesOfferings.
pub fn describe_reserved_cache_nodes_offerings(
    _svc: &Service,
    _ctx: &RequestContext,
    input: DescribeReservedCacheNodesOfferingsInput,
) -> Result<DescribeReservedCacheNodesOfferingsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let f = Filter::of(
        input.reserved_cache_nodes_offering_id.as_ref(),
        input.cache_node_type.as_ref(),
        input.duration.as_ref(),
        input.product_description.as_ref(),
        input.offering_type.as_ref(),
    )?;
    let items: Vec<ReservedCacheNodesOffering> = offerings()
        .into_iter()
        .filter(|o| f.keeps(&o.id, &o.node_type, o.duration, o.product, o.offering_type))
        .map(|o| ReservedCacheNodesOffering {
            cache_node_type: Some(o.node_type),
            duration: Some(o.duration),
            fixed_price: Some(o.fixed),
            offering_type: Some(o.offering_type.to_string()),
            product_description: Some(o.product.to_string()),
            recurring_charges: Some(recurring(o.hourly)),
            reserved_cache_nodes_offering_id: Some(o.id),
            usage_price: Some(0.0),
        })
        .collect();
    let page = page(items, input.marker.as_deref(), max)?;
    Ok(DescribeReservedCacheNodesOfferingsOutput {
        reserved_cache_nodes_offerings: Some(page.items),
        marker: page.marker,
    })
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn render(ctx: &RequestContext, n: &ReservedNodeRecord, now_ms: i64) -> ReservedCacheNode {
    let start = OffsetDateTime::from_unix_timestamp_nanos(i128::from(n.start_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    ReservedCacheNode {
        cache_node_count: Some(n.count),
        cache_node_type: Some(n.node_type.clone()),
        duration: Some(n.duration),
        fixed_price: Some(n.fixed_price),
        offering_type: Some(n.offering_type.clone()),
        product_description: Some(n.product_description.clone()),
        recurring_charges: Some(recurring(n.recurring_hourly)),
        reservation_arn: Some(arn_of(
            ctx,
            ResourceKind::ReservedInstance,
            &n.id.to_ascii_lowercase(),
        )),
        reserved_cache_node_id: Some(n.id.clone()),
        reserved_cache_nodes_offering_id: Some(n.offering_id.clone()),
        start_time: Some(Timestamp(start)),
        state: Some(n.state(now_ms).to_string()),
        usage_price: Some(n.usage_price),
    }
}

/// DescribeReservedCacheNodes: the region's purchases in id order; a named id that does not
/// exist is `ReservedCacheNodeNotFound`.
pub fn describe_reserved_cache_nodes(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeReservedCacheNodesInput,
) -> Result<DescribeReservedCacheNodesOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let f = Filter::of(
        input.reserved_cache_nodes_offering_id.as_ref(),
        input.cache_node_type.as_ref(),
        input.duration.as_ref(),
        input.product_description.as_ref(),
        input.offering_type.as_ref(),
    )?;
    let now_ms = ms(svc.inner.store.clock().now());
    let region = svc.region(ctx);
    let r = lock(&region);
    let wanted = input
        .reserved_cache_node_id
        .as_deref()
        .map(|id| id.trim().to_ascii_lowercase());
    if let Some(id) = wanted.as_deref()
        && !r.reserved_nodes.contains_key(id)
    {
        return Err(ApiError::reserved_cache_node_not_found(format!(
            "Reserved cache node not found: {id}"
        )));
    }
    let items: Vec<ReservedCacheNode> = r
        .reserved_nodes
        .iter()
        .filter(|(k, _)| wanted.as_deref().is_none_or(|w| w == k.as_str()))
        .map(|(_, n)| n)
        .filter(|n| {
            f.keeps(
                &n.offering_id,
                &n.node_type,
                n.duration,
                &n.product_description,
                &n.offering_type,
            )
        })
        .map(|n| render(ctx, n, now_ms))
        .collect();
    drop(r);
    let page = page(items, input.marker.as_deref(), max)?;
    Ok(DescribeReservedCacheNodesOutput {
        reserved_cache_nodes: Some(page.items),
        marker: page.marker,
    })
}

/// Checks the id and count of a purchase against the region: a free id, a count of at least
/// one, and the reserved-node quota.
fn check_purchase(r: &Region, id: &str, count: i32, now_ms: i64) -> Result<(), ApiError> {
    if r.reserved_nodes.contains_key(&id.to_ascii_lowercase()) {
        return Err(ApiError::reserved_cache_node_already_exists(format!(
            "Reserved cache node {id} already exists."
        )));
    }
    if count < 1 {
        return Err(invalid(format!(
            "Invalid value for CacheNodeCount: {count}. It must be at least 1."
        )));
    }
    let held: i32 = r
        .reserved_nodes
        .values()
        .filter(|n| n.state(now_ms) != "retired")
        .map(|n| n.count)
        .sum();
    if held.saturating_add(count) > MAX_RESERVED_NODES {
        return Err(ApiError::reserved_cache_node_quota_exceeded(format!(
            "The request cannot be processed because it would exceed the user's reserved cache node quota of {MAX_RESERVED_NODES}."
        )));
    }
    Ok(())
}

/// PurchaseReservedCacheNodesOffering.
pub fn purchase_reserved_cache_nodes_offering(
    svc: &Service,
    ctx: &RequestContext,
    input: PurchaseReservedCacheNodesOfferingInput,
) -> Result<PurchaseReservedCacheNodesOfferingOutput, ApiError> {
    let wanted = input
        .reserved_cache_nodes_offering_id
        .trim()
        .to_ascii_lowercase();
    let Some(o) = offerings().into_iter().find(|o| o.id == wanted) else {
        return Err(ApiError::reserved_cache_nodes_offering_not_found(format!(
            "ReservedCacheNodesOffering not found: {}",
            input.reserved_cache_nodes_offering_id
        )));
    };
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.clock().now();
    let now_ms = ms(now);
    let id = match input.reserved_cache_node_id.as_deref().map(str::trim) {
        Some(id) => {
            non_blank("ReservedCacheNodeId", id)?;
            id.to_string()
        }
        None => format!("ri-{}", now_ms),
    };
    let count = input.cache_node_count.unwrap_or(1);
    let region = svc.region(ctx);
    let mut r = lock(&region);
    check_purchase(&r, &id, count, now_ms)?;
    let record = ReservedNodeRecord {
        id: id.clone(),
        offering_id: o.id,
        node_type: o.node_type,
        duration: o.duration,
        fixed_price: round2(o.fixed * f64::from(count)),
        usage_price: 0.0,
        recurring_hourly: o.hourly,
        count,
        product_description: o.product.to_string(),
        offering_type: o.offering_type.to_string(),
        start_ms: now_ms,
        pending_ms: (svc.inner.create_delay.as_millis() as i64).max(1000),
    };
    let key = id.to_ascii_lowercase();
    attach_tags(&mut r, ResourceKind::ReservedInstance, &key, &tags);
    r.reserved_nodes.insert(key, record.clone());
    Ok(PurchaseReservedCacheNodesOfferingOutput {
        reserved_cache_node: Some(render(ctx, &record, now_ms)),
    })
}
