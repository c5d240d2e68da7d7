//! The init directory (`--init-dir`): run once at start, in file name order, so a CI job finds
//! its resources ready. `*.json` files hold a list of Query API requests (`{"Action":
//! "CreateCacheCluster", "CacheClusterId": "c1", …}` in the Query API's parameter naming;
//! optional `"Region"` picks the region) posted to the emulator's own API, so they go through
//! the same dispatch as any client's; `*.sh` files run with `sh` and the environment aws-cli
//! needs to target the emulator. Other files are skipped. Then it waits until every resource
//! is `available` and marks the emulator ready.
//!
//! A failing file is logged, named in `/health` and the run goes on with the next file; the
//! emulator is then never ready (`init.state` is `failed`), so `status --wait` fails fast.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{FileReport, Readiness, client};
use crate::control::handlers::Service;

/// How long init waits for the resources it created to become `available`.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long one shell file may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// What the init run needs: where the API listens and the default region.
pub struct InitRun {
    /// The init directory.
    pub dir: PathBuf,
    /// `http://host:port` of the running API.
    pub endpoint: String,
    /// Region for requests and scripts that name none.
    pub region: String,
    /// The control plane, polled for settled resources.
    pub service: Arc<Service>,
    /// Where progress is reported.
    pub readiness: Arc<Readiness>,
    /// Run no file, only wait for the resources: the state was restored from `--data-dir`,
    /// where the init files' resources already are (running them again would only fail).
    pub skip_files: bool,
}

/// Runs every init file, waits for the resources to settle, and reports readiness.
pub async fn run(init: InitRun) {
    let files = match list(&init.dir) {
        Ok(_) if init.skip_files => {
            tracing::info!("init: state restored from the data directory; files not run again");
            Vec::new()
        }
        Ok(files) => files,
        Err(err) => {
            tracing::error!(dir = %init.dir.display(), %err, "init directory unreadable");
            init.readiness
                .set_state("failed", vec![format!("{}: {err}", init.dir.display())]);
            return;
        }
    };
    let mut all_ok = true;
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tracing::info!(file = %name, "init: running");
        let result = if name.ends_with(".json") {
            run_json(&init, &path).await
        } else {
            run_script(&init, &path).await
        };
        match &result {
            Ok(detail) => tracing::info!(file = %name, %detail, "init: file done"),
            Err(err) => tracing::error!(file = %name, %err, "init: file failed"),
        }
        all_ok &= result.is_ok();
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(e) => (false, e),
        };
        init.readiness.file_done(FileReport {
            file: name,
            ok,
            detail,
        });
    }
    init.readiness.set_state("waiting", Vec::new());
    let (settled, names) = wait_settled(&init).await;
    if all_ok && settled {
        tracing::info!("init: done; every resource is available");
        init.readiness.set_state("done", Vec::new());
    } else {
        tracing::error!(resources = ?names, "init: failed; the emulator will not report ready");
        init.readiness.set_state("failed", names);
    }
}

/// `*.json` and `*.sh` files of `dir`, in name order.
fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let runnable = p.extension().is_some_and(|e| e == "json" || e == "sh");
            if !runnable && p.is_file() {
                tracing::info!(file = %p.display(), "init: skipped (neither .json nor .sh)");
            }
            runnable && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Posts every request of a JSON file; stops at the first refused one.
async fn run_json(init: &InitRun, path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let requests = match doc {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => return Err("expected a list of request objects".to_string()),
    };
    for (i, request) in requests.iter().enumerate() {
        let (action, form) =
            form_of(request, &init.region).map_err(|e| format!("request {}: {e}", i + 1))?;
        let answer = client::request(
            &init.endpoint,
            "POST",
            "/",
            Some("application/x-www-form-urlencoded"),
            form.as_bytes(),
        )
        .await
        .map_err(|e| format!("request {} ({action}): {e}", i + 1))?;
        if answer.status != 200 {
            let code = between(&answer.body, "<Code>", "</Code>");
            let message = between(&answer.body, "<Message>", "</Message>");
            return Err(format!("request {} ({action}): {code}: {message}", i + 1));
        }
    }
    Ok(format!("{} requests", requests.len()))
}

/// The form body of one request object: scalar values only (numbers and booleans as text),
/// `Version` added when absent, `Region` turned into a credential scope naming that region.
fn form_of(request: &Value, default_region: &str) -> Result<(String, String), String> {
    let obj = request.as_object().ok_or("not an object")?;
    let action = obj
        .get("Action")
        .and_then(Value::as_str)
        .ok_or("no \"Action\"")?
        .to_string();
    let mut form = form_urlencoded::Serializer::new(String::new());
    let mut region = default_region.to_string();
    for (key, value) in obj {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(format!(
                    "{key}: only strings, numbers and booleans (use Query names such as \"SecurityGroupIds.SecurityGroupId.1\" for lists)"
                ));
            }
        };
        if key == "Region" {
            region = text;
        } else {
            form.append_pair(key, &text);
        }
    }
    if !obj.contains_key("Version") {
        form.append_pair("Version", crate::control::protocol::API_VERSION);
    }
    form.append_pair(
        "X-Amz-Credential",
        &format!("test/20200101/{region}/elasticache/aws4_request"),
    );
    Ok((action, form.finish()))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    text.split_once(open)
        .and_then(|(_, rest)| rest.split_once(close))
        .map_or("", |(inside, _)| inside)
}

/// Runs a shell file with `sh` in the init directory; its output goes to the log.
async fn run_script(init: &InitRun, path: &Path) -> Result<String, String> {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg(path)
        .current_dir(&init.dir)
        .env("AWS_ENDPOINT_URL", &init.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", &init.region)
        .env("AWS_REGION", &init.region)
        .env("AWS_PAGER", "")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, command.output())
        .await
        .map_err(|_| format!("still running after {} s; killed", SCRIPT_TIMEOUT.as_secs()))?
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let file = path.display().to_string();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        tracing::info!(%file, "init stdout: {line}");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines() {
        tracing::info!(%file, "init stderr: {line}");
    }
    if output.status.success() {
        Ok("exit 0".to_string())
    } else {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Err(format!("{}: {last}", output.status))
    }
}

/// Waits until nothing is pending; answers whether everything became available, and the
/// resources that failed or did not settle in time.
async fn wait_settled(init: &InitRun) -> (bool, Vec<String>) {
    let started = Instant::now();
    loop {
        let now = init.service.unsettled();
        if now.pending.is_empty() {
            return (now.failed.is_empty(), now.failed);
        }
        if started.elapsed() > SETTLE_TIMEOUT {
            let mut names = now.failed;
            names.extend(
                now.pending
                    .into_iter()
                    .map(|n| format!("{n}: not available after {} s", SETTLE_TIMEOUT.as_secs())),
            );
            return (false, names);
        }
        init.readiness.set_state("waiting", now.pending);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_query_forms() {
        let request = serde_json::json!({"Action": "CreateCacheCluster", "NumCacheNodes": 2,
            "AutoMinorVersionUpgrade": false, "Region": "eu-west-1"});
        let (action, form) = form_of(&request, "us-east-1").unwrap();
        assert_eq!(action, "CreateCacheCluster");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("NumCacheNodes"), Some("2"));
        assert_eq!(get("AutoMinorVersionUpgrade"), Some("false"));
        assert_eq!(get("Version"), Some(crate::control::protocol::API_VERSION));
        assert_eq!(
            get("X-Amz-Credential"),
            Some("test/20200101/eu-west-1/elasticache/aws4_request")
        );
        assert_eq!(get("Region"), None);
        let nested = serde_json::json!({"Action": "X", "Tags": [{"Key": "k"}]});
        assert!(form_of(&nested, "us-east-1").unwrap_err().contains("Tags"));
        assert!(form_of(&serde_json::json!({"CacheClusterId": "c"}), "us-east-1").is_err());
        assert_eq!(
            between("<Code>Bad</Code><Message>m</Message>", "<Code>", "</Code>"),
            "Bad"
        );
    }
}
