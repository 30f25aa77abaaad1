//! The build plan: plain data saying which stages a recipe needs, what each stage reads, what
//! it will do and which cache key it has. Executing a plan is the image builder's job; this
//! module only describes. `$WORK` and `$OUT` in paths stand for the stage's work folder and the
//! output folder; they are placeholders, never passed through a shell.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use liveboot_yaml::Diagnostic;

use crate::{Compression, Loader, Output, Recipe, Source};

/// Settings that come from outside the recipe.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Folder holding the templates (`templates/` of the project).
    pub templates: PathBuf,
    /// SOURCE_DATE_EPOCH to pin, when the caller has one.
    pub source_date_epoch: Option<u64>,
}

/// A whole build.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Recipe name.
    pub recipe: String,
    /// Recipe title.
    pub title: String,
    /// Recipe file.
    pub file: String,
    /// Fragments it extends.
    pub extends: Vec<String>,
    /// `family release`.
    pub distro: String,
    /// Source kind.
    pub source: String,
    /// Hash of the resolved recipe and every file it names.
    pub recipe_hash: String,
    /// SOURCE_DATE_EPOCH, when pinned.
    pub source_date_epoch: Option<u64>,
    /// Stages, in an order that respects `after`.
    pub stages: Vec<Stage>,
    /// The files the build leaves in `$OUT`.
    pub artifacts: Vec<String>,
}

/// One cached step of a build.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// Stage name, unique in the plan.
    pub name: String,
    /// What it does, in a few words.
    pub summary: String,
    /// Stages whose outputs it reads.
    pub after: Vec<String>,
    /// Everything its result depends on, hashed.
    pub inputs: Vec<Input>,
    /// What it will do, in order.
    pub actions: Vec<Action>,
    /// Files it produces in its work folder.
    pub produces: Vec<String>,
    /// Cache key: hash of the inputs and of the keys of the stages it comes after.
    pub key: String,
}

/// One input of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// What it is: `recipe:<part>`, `file:<path>`, `template:<name>`.
    pub name: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// One thing a stage does.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Run a program (through the runner, never a shell).
    Run { argv: Vec<String> },
    /// Render a template.
    Render { template: String, dest: String },
    /// Copy a file.
    Copy {
        src: String,
        dest: String,
        mode: Option<String>,
    },
    /// Write generated content (described, not shown).
    Write { dest: String, content: String },
    /// Download and verify.
    Fetch {
        url: String,
        checksum: String,
        dest: String,
    },
    /// Find/replace in a text file.
    Edit {
        file: String,
        find: String,
        replace: String,
        min_matches: u32,
    },
}

impl Action {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Action::Run { argv } => format!(
                "run    {}",
                argv.iter()
                    .map(|a| shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Action::Render { template, dest } => format!("render {template} -> {dest}"),
            Action::Copy { src, dest, mode } => match mode {
                Some(m) => format!("copy   {src} -> {dest} (mode {m})"),
                None => format!("copy   {src} -> {dest}"),
            },
            Action::Write { dest, content } => format!("write  {dest} ({content})"),
            Action::Fetch {
                url,
                checksum,
                dest,
            } => format!("fetch  {url} -> {dest} (verify {checksum})"),
            Action::Edit {
                file,
                find,
                replace,
                min_matches,
            } => {
                format!("edit   {file}: {find:?} -> {replace:?} (at least {min_matches}x)")
            }
        }
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,$@+%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_hash<T: Serialize>(v: &T) -> String {
    sha256_hex(&serde_json::to_vec(v).expect("plain data serializes"))
}

struct Builder<'a> {
    opts: &'a PlanOptions,
    stages: Vec<Stage>,
}

impl Builder<'_> {
    fn part<T: Serialize>(&self, name: &str, v: &T) -> Input {
        Input {
            name: format!("recipe:{name}"),
            sha256: json_hash(v),
        }
    }

    fn file(&self, shown: &str, path: &Path) -> Result<Input, Diagnostic> {
        let bytes = std::fs::read(path).map_err(|e| {
            Diagnostic::nowhere(format!("cannot read {}: {e}", path.display()))
                .with_help("check that the file exists and is readable")
        })?;
        Ok(Input {
            name: format!("file:{shown}"),
            sha256: sha256_hex(&bytes),
        })
    }

    fn dir(&self, shown: &str, path: &Path) -> Result<Input, Diagnostic> {
        let mut files = Vec::new();
        collect_files(path, path, &mut files)
            .map_err(|e| Diagnostic::nowhere(format!("cannot read {}: {e}", path.display())))?;
        files.sort();
        let mut h = Sha256::new();
        for rel in files {
            let bytes = std::fs::read(path.join(&rel)).map_err(|e| {
                Diagnostic::nowhere(format!("cannot read {}: {e}", path.join(&rel).display()))
            })?;
            h.update(rel.as_bytes());
            h.update([0]);
            h.update(sha256_hex(&bytes));
        }
        Ok(Input {
            name: format!("dir:{shown}"),
            sha256: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    fn template(&self, name: &str) -> Result<Input, Diagnostic> {
        let path = self.opts.templates.join(name);
        if !path.is_file() {
            return Err(Diagnostic::nowhere(format!(
                "template '{name}' not found ({} does not exist)",
                path.display()
            ))
            .with_help("run from the project root or pass --templates DIR"));
        }
        let mut input = self.file(name, &path)?;
        input.name = format!("template:{name}");
        Ok(input)
    }

    fn add(
        &mut self,
        name: &str,
        summary: &str,
        after: &[&str],
        inputs: Vec<Input>,
        actions: Vec<Action>,
        produces: &[&str],
    ) {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        for i in &inputs {
            h.update(format!("\n{}={}", i.name, i.sha256));
        }
        for a in after {
            let key = &self
                .stages
                .iter()
                .find(|s| s.name == *a)
                .expect("stages are added after their dependencies")
                .key;
            h.update(format!("\nafter:{a}={key}"));
        }
        self.stages.push(Stage {
            name: name.to_string(),
            summary: summary.to_string(),
            after: after.iter().map(|s| s.to_string()).collect(),
            inputs,
            actions,
            produces: produces.iter().map(|s| s.to_string()).collect(),
            key: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        });
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    Ok(())
}

/// The kernel command line of the live system: the recipe's arguments, then the serial console.
pub fn kernel_cmdline(recipe: &Recipe) -> String {
    let boot = &recipe.spec.boot;
    let mut args = boot.kernel_args.clone();
    if let Some(s) = &boot.serial {
        args.push("console=tty0".to_string());
        args.push(format!("console={},{}n8", s.port, s.speed));
    }
    args.join(" ")
}

fn squashfs_args(c: Compression, level: Option<u32>) -> Vec<String> {
    let mut a = vec!["-comp".to_string(), c.as_str().to_string()];
    if let Some((_, _, default)) = c.levels() {
        a.push("-Xcompression-level".to_string());
        a.push(level.unwrap_or(default).to_string());
    }
    a
}

/// Resolves a recipe into its plan. Reads the recipe's own files (to hash them), nothing else.
pub fn plan(recipe: &Recipe, opts: &PlanOptions) -> Result<Plan, Diagnostic> {
    let spec = &recipe.spec;
    let mut b = Builder {
        opts,
        stages: Vec::new(),
    };
    let name = spec.name.as_str();
    let iso_name = format!("{name}.iso");
    let cmdline = kernel_cmdline(recipe);
    let boot_inputs = |b: &Builder| -> Result<Vec<Input>, Diagnostic> {
        Ok(vec![
            b.part("boot", &spec.boot),
            b.part("title", &spec.title),
            b.part("label", &spec.label),
            b.template("boot/grub.cfg.j2")?,
            b.template("boot/isolinux.cfg.j2")?,
        ])
    };
    let mut overlay_inputs = Vec::new();
    let mut overlay_actions = Vec::new();
    for (i, o) in spec.overlay.iter().enumerate() {
        let src = recipe.resolve(&["overlay".into(), i.into(), "src".into()], &o.src);
        overlay_inputs.push(b.file(&src.to_string_lossy(), &src)?);
        overlay_inputs.push(b.part(&format!("overlay[{i}]"), o));
        overlay_actions.push(Action::Copy {
            src: src.to_string_lossy().into_owned(),
            dest: format!("$WORK/rootfs{}", o.dest),
            mode: o.mode.clone(),
        });
    }
    let datasource_cfg = Action::Write {
        dest: "$WORK/rootfs/etc/cloud/cloud.cfg.d/90_liveboot.cfg".into(),
        content: format!(
            "datasource_list: [{}]",
            spec.cloud_init.datasources.join(", ")
        ),
    };
    let wants_uefi = spec.boot.loaders.contains(&Loader::Uefi);
    let wants_bios = spec.boot.loaders.contains(&Loader::Bios);

    // Every source ends in a root filesystem image plus a kernel and initrd, or in a finished
    // upstream-style ISO; the stages after that differ only in paths.
    let (kernel, initrd, rootimg, iso_after): (&str, &str, &str, Vec<&str>) = match &spec.source {
        Source::Bootstrap(bs) => {
            let info =
                crate::release_info(spec.distro.family, &spec.distro.release).expect("validated");
            let suite = bs
                .suite
                .clone()
                .unwrap_or_else(|| info.codename.to_string());
            b.add(
                "rootfs",
                "bootstrap the root filesystem with mmdebstrap",
                &[],
                vec![
                    b.part("source", &spec.source),
                    b.part("packages", &spec.packages),
                    b.part("distro", &spec.distro),
                    b.part("arch", &spec.arch),
                ],
                vec![Action::Run {
                    argv: vec![
                        "mmdebstrap".into(),
                        format!("--variant={}", bs.variant),
                        "--architectures=amd64".into(),
                        format!("--components={}", bs.components.join(",")),
                        format!("--include={}", spec.packages.join(",")),
                        suite,
                        "$WORK/rootfs".into(),
                        bs.mirror.clone(),
                    ],
                }],
                &["rootfs/"],
            );
            let mut inputs = overlay_inputs.clone();
            inputs.push(b.part("cloud_init", &spec.cloud_init));
            let mut actions = overlay_actions.clone();
            actions.push(datasource_cfg.clone());
            actions.push(Action::Write {
                dest: "$WORK/rootfs/etc/{machine-id,hostname,ssh/ssh_host_*}".into(),
                content: "emptied/removed so that every boot makes its own".into(),
            });
            b.add(
                "customize",
                "overlay files, cloud-init datasources, per-boot identity",
                &["rootfs"],
                inputs,
                actions,
                &["rootfs/", "vmlinuz", "initrd.img", "packages.txt"],
            );
            let mut argv = vec![
                "mksquashfs".into(),
                "$WORK/rootfs".into(),
                "$WORK/filesystem.squashfs".into(),
                "-noappend".into(),
                "-xattrs".into(),
            ];
            argv.extend(squashfs_args(
                spec.squashfs.compression,
                spec.squashfs.level,
            ));
            b.add(
                "squashfs",
                "compress the root filesystem",
                &["customize"],
                vec![b.part("squashfs", &spec.squashfs)],
                vec![Action::Run { argv }],
                &["filesystem.squashfs"],
            );
            (
                "live/vmlinuz",
                "live/initrd.img",
                "live/filesystem.squashfs",
                vec!["squashfs"],
            )
        }
        Source::Kickstart(ks) => {
            let at = ["source".into(), "kickstart".into(), "file".into()];
            let file = recipe.resolve(&at, &ks.file);
            let tool = match ks.tool {
                crate::KickstartTool::LivemediaCreator => vec![
                    "livemedia-creator".to_string(),
                    "--make-iso".into(),
                    "--no-virt".into(),
                    "--iso-only".into(),
                    format!("--iso-name={iso_name}"),
                    format!("--volid={}", spec.label),
                    format!("--project={}", spec.title),
                    format!("--releasever={}", spec.distro.release),
                    "--ks=$WORK/flat.ks".into(),
                    "--resultdir=$WORK/result".into(),
                ],
                crate::KickstartTool::LivecdCreator => vec![
                    "livecd-creator".to_string(),
                    "--config=$WORK/flat.ks".into(),
                    format!("--fslabel={}", spec.label),
                    "--cache=$WORK/cache".into(),
                    "--tmpdir=$WORK/tmp".into(),
                ],
            };
            b.add(
                "kickstart",
                "flatten the kickstart and add the recipe's packages and cloud-init settings",
                &[],
                vec![
                    b.file(&file.to_string_lossy(), &file)?,
                    b.part("packages", &spec.packages),
                    b.part("cloud_init", &spec.cloud_init),
                    b.part("distro", &spec.distro),
                ],
                vec![
                    Action::Run {
                        argv: vec![
                            "ksflatten".into(),
                            format!("--config={}", file.display()),
                            "--output=$WORK/flat.ks".into(),
                        ],
                    },
                    Action::Write {
                        dest: "$WORK/flat.ks".into(),
                        content: format!(
                            "%packages += {}; %post writes 90_liveboot.cfg",
                            spec.packages.join(" ")
                        ),
                    },
                ],
                &["flat.ks"],
            );
            let mut inputs = overlay_inputs.clone();
            inputs.push(b.part("label", &spec.label));
            b.add(
                "live",
                "build the live root (LiveOS/squashfs.img) from the kickstart",
                &["kickstart"],
                inputs,
                vec![Action::Run { argv: tool }],
                &["result/"],
            );
            (
                "images/pxeboot/vmlinuz",
                "images/pxeboot/initrd.img",
                "LiveOS/squashfs.img",
                vec!["live"],
            )
        }
        Source::UpstreamIso(u) => {
            let checksum = match (&u.sha256, &u.sha256sums) {
                (Some(h), _) => format!("sha256:{h}"),
                (None, Some(url)) => format!("listed in {url}"),
                (None, None) => unreachable!("validated"),
            };
            b.add(
                "fetch",
                "download and verify the upstream ISO",
                &[],
                vec![
                    b.part("source.url", &u.url),
                    b.part("source.checksum", &checksum),
                ],
                vec![Action::Fetch {
                    url: u.url.clone(),
                    checksum,
                    dest: "$WORK/upstream.iso".into(),
                }],
                &["upstream.iso"],
            );
            let actions = u
                .patches
                .iter()
                .map(|p| Action::Edit {
                    file: p.file.clone(),
                    find: p.find.clone(),
                    replace: p.replace.replace("{kernel_args}", &cmdline),
                    min_matches: p.min_matches,
                })
                .collect();
            b.add(
                "patch",
                "patch the boot menus with the recipe's kernel arguments",
                &["fetch"],
                vec![
                    b.part("source.patches", &u.patches),
                    b.part("boot", &spec.boot),
                ],
                actions,
                &["patched/"],
            );
            (
                "casper/vmlinuz",
                "casper/initrd",
                "casper/filesystem.squashfs",
                vec!["patch"],
            )
        }
        Source::Kiwi(k) => {
            let at = ["source".into(), "kiwi".into(), "description".into()];
            let dir = recipe.resolve(&at, &k.description);
            let mut argv = vec!["kiwi-ng".to_string(), "--type=iso".into()];
            if let Some(p) = &k.profile {
                argv.push(format!("--profile={p}"));
            }
            argv.extend([
                "system".into(),
                "build".into(),
                format!("--description={}", dir.display()),
                "--target-dir=$WORK/kiwi".into(),
            ]);
            let mut inputs = vec![
                b.dir(&dir.to_string_lossy(), &dir)?,
                b.part("packages", &spec.packages),
                b.part("cloud_init", &spec.cloud_init),
            ];
            inputs.extend(overlay_inputs.clone());
            b.add(
                "kiwi",
                "build the live image from the KIWI description",
                &[],
                inputs,
                vec![Action::Run { argv }],
                &["kiwi/"],
            );
            (
                "boot/x86_64/loader/linux",
                "boot/x86_64/loader/initrd",
                "LiveOS/squashfs.img",
                vec!["kiwi"],
            )
        }
    };

    let mut artifacts = Vec::new();
    if spec.outputs.contains(&Output::Iso) {
        let mut after = iso_after.clone();
        if matches!(spec.source, Source::Bootstrap(_)) {
            b.add(
                "bootmenu",
                "render the GRUB and isolinux menus",
                &[],
                boot_inputs(&b)?,
                vec![
                    Action::Render {
                        template: "boot/grub.cfg.j2".into(),
                        dest: "$WORK/iso/boot/grub/grub.cfg".into(),
                    },
                    Action::Render {
                        template: "boot/isolinux.cfg.j2".into(),
                        dest: "$WORK/iso/isolinux/isolinux.cfg".into(),
                    },
                ],
                &["iso/boot/grub/grub.cfg", "iso/isolinux/isolinux.cfg"],
            );
            after.push("bootmenu");
            if wants_uefi {
                b.add(
                    "efi",
                    "make the El Torito EFI image (FAT with GRUB EFI)",
                    &[],
                    vec![b.part("label", &spec.label)],
                    vec![
                        Action::Run {
                            argv: vec![
                                "grub-mkstandalone".into(),
                                "--format=x86_64-efi".into(),
                                "--output=$WORK/bootx64.efi".into(),
                                "boot/grub/grub.cfg=$WORK/embedded.cfg".into(),
                            ],
                        },
                        Action::Run {
                            argv: vec![
                                "mkfs.fat".into(),
                                "--invariant".into(),
                                "-C".into(),
                                "$WORK/efi.img".into(),
                                "4096".into(),
                            ],
                        },
                        Action::Run {
                            argv: vec![
                                "mcopy".into(),
                                "-i".into(),
                                "$WORK/efi.img".into(),
                                "$WORK/bootx64.efi".into(),
                                "::/EFI/BOOT/BOOTX64.EFI".into(),
                            ],
                        },
                    ],
                    &["efi.img"],
                );
                after.push("efi");
            }
            let mut argv: Vec<String> = vec![
                "xorriso".into(),
                "-as".into(),
                "mkisofs".into(),
                "-iso-level".into(),
                "3".into(),
                "-full-iso9660-filenames".into(),
                "-joliet".into(),
                "-rational-rock".into(),
                "-volid".into(),
                spec.label.clone(),
            ];
            if wants_bios {
                argv.extend(
                    [
                        "-isohybrid-mbr",
                        "/usr/lib/ISOLINUX/isohdpfx.bin",
                        "-eltorito-boot",
                        "isolinux/isolinux.bin",
                        "-eltorito-catalog",
                        "isolinux/boot.cat",
                        "-no-emul-boot",
                        "-boot-load-size",
                        "4",
                        "-boot-info-table",
                    ]
                    .map(String::from),
                );
            }
            if wants_uefi {
                argv.extend(
                    [
                        "-eltorito-alt-boot",
                        "-e",
                        "boot/efi.img",
                        "-no-emul-boot",
                        "-isohybrid-gpt-basdat",
                    ]
                    .map(String::from),
                );
            }
            argv.extend([
                "-output".into(),
                format!("$OUT/{iso_name}"),
                "$WORK/iso".into(),
            ]);
            let copies = vec![
                Action::Copy {
                    src: "$WORK/vmlinuz".into(),
                    dest: format!("$WORK/iso/{kernel}"),
                    mode: None,
                },
                Action::Copy {
                    src: "$WORK/initrd.img".into(),
                    dest: format!("$WORK/iso/{initrd}"),
                    mode: None,
                },
                Action::Copy {
                    src: "$WORK/filesystem.squashfs".into(),
                    dest: format!("$WORK/iso/{rootimg}"),
                    mode: None,
                },
            ];
            b.add(
                "iso",
                "assemble the hybrid ISO (BIOS, UEFI, USB)",
                &after,
                vec![
                    b.part("label", &spec.label),
                    b.part("loaders", &spec.boot.loaders),
                ],
                [copies, vec![Action::Run { argv }]].concat(),
                &[&iso_name],
            );
        } else {
            let argv = vec![
                "xorriso".into(),
                "-indev".into(),
                "$WORK/upstream.iso".into(),
                "-outdev".into(),
                format!("$OUT/{iso_name}"),
                "-volid".into(),
                spec.label.clone(),
                "-boot_image".into(),
                "any".into(),
                "replay".into(),
                "-map".into(),
                "$WORK/patched".into(),
                "/".into(),
            ];
            b.add(
                "iso",
                "remaster the ISO with its own boot setup (xorriso replay)",
                &after,
                vec![b.part("label", &spec.label), b.part("boot", &spec.boot)],
                vec![Action::Run { argv }],
                &[&iso_name],
            );
        }
        artifacts.push(iso_name.clone());
    }
    if spec.outputs.contains(&Output::Pxe) {
        let mut inputs = vec![b.part("boot", &spec.boot), b.part("label", &spec.label)];
        for t in [
            "pxe/boot.ipxe.j2",
            "pxe/grub.cfg.j2",
            "pxe/pxelinux.cfg.j2",
            "pxe/dnsmasq.conf.j2",
        ] {
            inputs.push(b.template(t)?);
        }
        let root_name = Path::new(rootimg)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("root.img")
            .to_string();
        b.add(
            "pxe",
            "network boot bundle: kernel, initrd, root image and boot configs",
            &iso_after,
            inputs,
            vec![
                Action::Copy {
                    src: format!("$WORK/{kernel}"),
                    dest: "$OUT/pxe/vmlinuz".into(),
                    mode: None,
                },
                Action::Copy {
                    src: format!("$WORK/{initrd}"),
                    dest: "$OUT/pxe/initrd.img".into(),
                    mode: None,
                },
                Action::Copy {
                    src: format!("$WORK/{rootimg}"),
                    dest: format!("$OUT/pxe/{root_name}"),
                    mode: None,
                },
                Action::Render {
                    template: "pxe/boot.ipxe.j2".into(),
                    dest: "$OUT/pxe/boot.ipxe".into(),
                },
                Action::Render {
                    template: "pxe/grub.cfg.j2".into(),
                    dest: "$OUT/pxe/grub.cfg".into(),
                },
                Action::Render {
                    template: "pxe/pxelinux.cfg.j2".into(),
                    dest: "$OUT/pxe/pxelinux.cfg/default".into(),
                },
                Action::Render {
                    template: "pxe/dnsmasq.conf.j2".into(),
                    dest: "$OUT/pxe/dnsmasq.conf".into(),
                },
            ],
            &["pxe/"],
        );
        artifacts.push("pxe/".into());
    }
    artifacts.extend(["manifest.json".to_string(), "SHA256SUMS".to_string()]);

    let mut all_inputs: Vec<&Input> = b.stages.iter().flat_map(|s| s.inputs.iter()).collect();
    all_inputs.sort_by(|a, b| a.name.cmp(&b.name));
    all_inputs.dedup_by(|a, b| a.name == b.name);
    let recipe_hash = json_hash(&(spec, &all_inputs));
    Ok(Plan {
        recipe: spec.name.clone(),
        title: spec.title.clone(),
        file: recipe.file.display().to_string(),
        extends: recipe
            .extends
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        distro: format!("{} {}", spec.distro.family.as_str(), spec.distro.release),
        source: spec.source.kind().to_string(),
        recipe_hash,
        source_date_epoch: opts.source_date_epoch,
        stages: b.stages,
        artifacts,
    })
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "recipe  {} — {} ({}, from {})",
            self.recipe, self.title, self.distro, self.source
        )?;
        writeln!(f, "file    {}", self.file)?;
        for e in &self.extends {
            writeln!(f, "extends {e}")?;
        }
        writeln!(f, "hash    {}", &self.recipe_hash[..16])?;
        if let Some(e) = self.source_date_epoch {
            writeln!(f, "SOURCE_DATE_EPOCH {e}")?;
        }
        for (i, s) in self.stages.iter().enumerate() {
            writeln!(f)?;
            let after = if s.after.is_empty() {
                String::new()
            } else {
                format!(" (after {})", s.after.join(", "))
            };
            writeln!(f, "{}. {} [{}]{after}", i + 1, s.name, &s.key[..12])?;
            writeln!(f, "   {}", s.summary)?;
            for a in &s.actions {
                writeln!(f, "   - {}", a.describe())?;
            }
            writeln!(
                f,
                "   inputs: {}",
                s.inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        writeln!(f)?;
        write!(f, "artifacts: {}", self.artifacts.join(", "))
    }
}
