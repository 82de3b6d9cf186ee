//! The docker runtime's images, built locally without any registry: a
//! `FROM scratch` context assembled in memory (the host-built binary, exactly
//! the shared libraries `ldd` lists, the dynamic loader, and Debian's
//! `busybox-static` for a shell/sleep), sent to the engine's build API, tagged
//! `graceful-lab/<name>:<hash12>` by content so a second run builds nothing.
//!
//! Where a registry is reachable, `LAB_IMAGE_ENVOY` / `LAB_IMAGE_HAPROXY`
//! name an official image to use instead (pulled only then, and only that).
//!
//! It must never pull an image nobody named, push, write a build context to
//! disk, or remove an image it did not build (`graceful-lab=1` label).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;

use crate::apps::Apps;
use crate::tools::{ToolName, Tools};

/// The label every image, container and network of the lab carries.
pub const LAB_LABEL: &str = "graceful-lab";
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not an ELF binary (a wrapper script?): the docker runtime needs the real binary"
    )]
    NotElf { path: PathBuf },
    #[error("ldd {path}: {reason}")]
    Ldd { path: PathBuf, reason: String },
    #[error("the images need {0}, which the tools found lack (harness tools --fetch)")]
    NoTool(ToolName),
    #[error("image {tag}: path {path:?} too long for the tar header")]
    PathTooLong { tag: String, path: String },
    #[error("building image {tag}: {reason}")]
    Build { tag: String, reason: String },
    #[error("image {image} (named by {var}): {reason}")]
    Named {
        image: String,
        var: String,
        reason: String,
    },
}

mod context;
mod spec;
pub use context::{ldd, parse_ldd};
pub use spec::ImageSpec;

/// The images of the lab, by what they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabImages {
    pub pause: String,
    pub backend: String,
    /// hc + drain + graceful-drain.sh + sh + curl.
    pub hc: String,
    pub envoy: String,
    pub haproxy: String,
    /// Images named by `LAB_IMAGE_*` instead of built: their program is
    /// run by its name (found on the image's PATH), not at our path.
    pub official: Vec<String>,
}

/// The images a user may replace with an official one, and the env var
/// naming it.
pub const OFFICIAL: &[(&str, &str)] = &[
    ("envoy", "LAB_IMAGE_ENVOY"),
    ("haproxy", "LAB_IMAGE_HAPROXY"),
];

/// Where each program lives inside its image.
pub mod paths {
    pub const BACKEND: &str = "/usr/local/bin/backend";
    pub const HC: &str = "/usr/local/bin/hc";
    pub const DRAIN: &str = "/usr/local/bin/drain";
    pub const DRAIN_SCRIPT: &str = "/usr/local/bin/graceful-drain.sh";
    pub const CURL: &str = "/usr/bin/curl";
    pub const ENVOY: &str = "/usr/local/bin/envoy";
    pub const HAPROXY: &str = "/usr/sbin/haproxy";
}

/// One image's outcome, for the report.
#[derive(Debug, Clone)]
pub struct ImageReport {
    pub name: String,
    pub tag: String,
    /// false when the tag was already there (cache hit).
    pub built: bool,
    pub size_bytes: u64,
    pub took: Duration,
}

/// The five specs of the lab.
pub fn lab_specs(apps: &Apps, tools: &Tools) -> Result<Vec<ImageSpec>, ImageError> {
    let tool = |n: ToolName| tools.get(n).ok_or(ImageError::NoTool(n));
    let bb = tool(ToolName::Busybox)?;
    Ok(vec![
        ImageSpec::new("pause").busybox(bb)?,
        ImageSpec::new("backend")
            .busybox(bb)?
            .binary(&apps.backend, paths::BACKEND)?,
        ImageSpec::new("hc")
            .busybox(bb)?
            .binary(&apps.hc, paths::HC)?
            .binary(&apps.drain, paths::DRAIN)?
            .tool(tool(ToolName::Curl)?, paths::CURL)?
            .plain(&apps.drain_script, paths::DRAIN_SCRIPT, 0o755),
        ImageSpec::new("envoy")
            .busybox(bb)?
            .tool(tool(ToolName::Envoy)?, paths::ENVOY)?,
        ImageSpec::new("haproxy")
            .busybox(bb)?
            .tool(tool(ToolName::Haproxy)?, paths::HAPROXY)?,
    ])
}

/// Builds (or finds, by content tag) every image of the lab.
pub async fn ensure_lab_images(
    docker: &Docker,
    apps: &Apps,
    tools: &Tools,
) -> Result<(LabImages, Vec<ImageReport>), ImageError> {
    let mut reports = Vec::new();
    let mut official = Vec::new();
    for spec in lab_specs(apps, tools)? {
        let named = OFFICIAL
            .iter()
            .find(|(n, _)| *n == spec.name)
            .and_then(|(_, var)| Some((std::env::var(var).ok()?, *var)))
            .filter(|(v, _)| !v.trim().is_empty());
        match named {
            Some((image, var)) => {
                let mut r = ensure_named(docker, image.trim(), var).await?;
                r.name = spec.name.clone();
                official.push(r.tag.clone());
                reports.push(r);
            }
            None => reports.push(ensure_image(docker, &spec).await?),
        }
    }
    let tag = |n: &str| {
        reports
            .iter()
            .find(|r| r.name == n)
            .map(|r| r.tag.clone())
            .unwrap_or_default()
    };
    let images = LabImages {
        pause: tag("pause"),
        backend: tag("backend"),
        hc: tag("hc"),
        envoy: tag("envoy"),
        haproxy: tag("haproxy"),
        official,
    };
    Ok((images, reports))
}

/// An image named by the user: found locally, else pulled (bounded by 5
/// minutes); the error names the image and the variable that named it.
pub async fn ensure_named(
    docker: &Docker,
    image: &str,
    var: &str,
) -> Result<ImageReport, ImageError> {
    let start = Instant::now();
    let berr = |reason: String| ImageError::Named {
        image: image.to_string(),
        var: var.to_string(),
        reason,
    };
    let found = |img: bollard::models::ImageInspect, built| ImageReport {
        name: image.to_string(),
        tag: image.to_string(),
        built,
        size_bytes: img.size.unwrap_or(0).max(0) as u64,
        took: start.elapsed(),
    };
    if let Ok(img) = docker.inspect_image(image).await {
        return Ok(found(img, false));
    }
    let opts = bollard::query_parameters::CreateImageOptionsBuilder::new()
        .from_image(image)
        .build();
    let pull = async {
        let mut stream = docker.create_image(Some(opts), None, None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| berr(format!("pull failed: {e}")))?;
        }
        Ok::<(), ImageError>(())
    };
    tokio::time::timeout(Duration::from_secs(300), pull)
        .await
        .map_err(|_| berr("pull did not finish within 5 minutes".into()))??;
    let img = docker
        .inspect_image(image)
        .await
        .map_err(|e| berr(format!("not there after the pull: {e}")))?;
    Ok(found(img, true))
}

/// Builds `spec` unless its content tag exists already.
pub async fn ensure_image(docker: &Docker, spec: &ImageSpec) -> Result<ImageReport, ImageError> {
    let start = Instant::now();
    let tag = spec.tag()?;
    let berr = |reason: String| ImageError::Build {
        tag: tag.clone(),
        reason,
    };
    if let Ok(img) = docker.inspect_image(&tag).await {
        return Ok(ImageReport {
            name: spec.name.clone(),
            tag: tag.clone(),
            built: false,
            size_bytes: img.size.unwrap_or(0).max(0) as u64,
            took: start.elapsed(),
        });
    }
    let ctx = spec.context(&tag)?;
    let labels: HashMap<&str, &str> = [(LAB_LABEL, "1"), ("graceful-lab.image", &spec.name)]
        .into_iter()
        .collect();
    let opts = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(&tag)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(ctx.into())));
    let mut last = String::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| berr(e.to_string()))?;
        if let Some(e) = info.error_detail.and_then(|d| d.message).or(info.error) {
            return Err(berr(e));
        }
        if let Some(s) = info.stream {
            last = s.trim().to_string();
        }
    }
    let img = docker
        .inspect_image(&tag)
        .await
        .map_err(|e| berr(format!("not there after the build ({last}): {e}")))?;
    Ok(ImageReport {
        name: spec.name.clone(),
        tag,
        built: true,
        size_bytes: img.size.unwrap_or(0).max(0) as u64,
        took: start.elapsed(),
    })
}
