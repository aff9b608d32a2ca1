//! The documentation is tested like the code: README.md and every page under docs/.
//!
//! - The replication's tables (`<!-- table:NAME -->` ... `<!-- /table -->`) are generated
//!   from committed results, never typed in: each must equal what the results give.
//! - Every relative link points to a file that exists, and every `#fragment` to a heading
//!   of its page (GitHub's anchors).
//! - Every `runner` command line in a ```sh block parses with the real argument parser and,
//!   unless it verifies or summarizes, runs with `--dry-run`; the option tables of
//!   docs/command-line.md are exactly the options of `--help`.
//! - The README's tour runs as written in a fresh folder and prints what it shows; the
//!   experiment file's example is a valid file whose `--dry-run` is shown.
//! - The settings and every column of the committed report files are documented.
//! - Every test that docs/reliability.md names exists.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{command, command_without_data_dir, repo, text};
use runner::report::stats;

// ---------------------------------------------------------------------- reading the pages

/// README.md and docs/*.md, relative to the repository root.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(repo()).unwrap().to_path_buf())
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn read(page: &Path) -> String {
    std::fs::read_to_string(repo().join(page)).unwrap_or_else(|e| panic!("{}: {e}", page.display()))
}

/// A fenced code block: its info string (`sh`, `toml`, ...), its text, and the line
/// just before its opening fence (a marker such as `<!-- output -->`, or whatever it is).
struct Block {
    info: String,
    text: String,
    before: String,
    /// Byte offset of the opening fence in the page.
    at: usize,
}

fn blocks(page: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    let mut body = String::new();
    let mut previous = "";
    let mut offset = 0;
    for line in page.split_inclusive('\n') {
        let trimmed = line.trim_end_matches('\n');
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                None => {
                    open = Some((info.trim().to_string(), previous.to_string(), offset));
                    body.clear();
                }
                Some((info, before, at)) => out.push(Block {
                    info,
                    text: std::mem::take(&mut body),
                    before,
                    at,
                }),
            }
        } else if open.is_some() {
            body.push_str(line);
        }
        previous = trimmed;
        offset += line.len();
    }
    assert!(open.is_none(), "a code block is not closed");
    out
}

/// The page's lines outside code blocks.
fn prose_lines(page: &str) -> Vec<&str> {
    let mut inside = false;
    page.lines()
        .filter(|l| {
            if l.starts_with("```") {
                inside = !inside;
                return false;
            }
            !inside
        })
        .collect()
}

/// `line` without its inline code spans.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        }
    }
    out
}

/// The text between `<!-- table:name -->` and `<!-- /table -->` in `page`.
fn table_block(page: &str, name: &str) -> String {
    let text = read(Path::new(page));
    let start_marker = format!("<!-- table:{name} -->\n");
    let start = text
        .find(&start_marker)
        .unwrap_or_else(|| panic!("{page} lacks {start_marker}"))
        + start_marker.len();
    let end = start
        + text[start..]
            .find("<!-- /table -->")
            .expect("closing marker");
    text[start..end].to_string()
}

/// The page that holds the replication's tables.
const REPLICATION: &str = "docs/replication.md";

/// Every table marker checked below, by name.
const TABLES: &[&str] = &[
    "depth_sweep",
    "depth_sweep_comparisons",
    "tensorflow",
    "replication",
    "replay_h256",
    "replay_h256-128",
];

#[test]
fn every_marked_table_is_one_that_is_checked() {
    let mut found = Vec::new();
    for page in pages() {
        let text = read(&page);
        for line in prose_lines(&text) {
            if let Some(rest) = line.strip_prefix("<!-- table:") {
                let name = rest.strip_suffix(" -->").expect("marker ends");
                found.push(format!("{}:{name}", page.display()));
            }
        }
    }
    found.sort();
    let mut expected: Vec<String> = TABLES
        .iter()
        .map(|t| format!("{REPLICATION}:{t}"))
        .collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "each generated table appears once, in {REPLICATION}, and is checked by a test here"
    );
}

// --------------------------------------------------------------------------------- links

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings, with GitHub's `-1`, `-2` for repeats.
fn anchors(page: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for line in prose_lines(page) {
        let level = line.chars().take_while(|&c| c == '#').count();
        if level == 0 || level > 6 || !line[level..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[level..]);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// The targets of the Markdown links and images of a page, outside code.
fn link_targets(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose_lines(page) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find(')').expect("a link's target ends with )");
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn relative_links_point_to_files_and_headings_that_exist() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = read(&page);
        let dir = page.parent().unwrap_or(Path::new(""));
        for target in link_targets(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                dir.join(path)
            };
            let full = repo().join(&file);
            if !full.exists() {
                problems.push(format!(
                    "{}: ({target}): no {}",
                    page.display(),
                    file.display()
                ));
                continue;
            }
            if let Some(fragment) = fragment {
                let target_text = std::fs::read_to_string(&full).unwrap_or_default();
                if !anchors(&target_text).contains(fragment) {
                    problems.push(format!(
                        "{}: ({target}): {} has no heading #{fragment}",
                        page.display(),
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
    assert!(checked > 100, "only {checked} relative links found");
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(
        slug(" Vectorised runs (`--pack`)"),
        "vectorised-runs---pack"
    );
    assert_eq!(slug(" `summary.csv`"), "summarycsv");
    assert_eq!(
        slug(" Against the tutorial's TensorFlow program"),
        "against-the-tutorials-tensorflow-program"
    );
    assert_eq!(
        slug(" Slurm: `examples/slurm/depth_sweep.sbatch`"),
        "slurm-examplesslurmdepth_sweepsbatch"
    );
    let anchors = anchors("# A\n## A\n```sh\n# not a heading\n```\n### Why 1e-4 and not 0\n");
    let expected: BTreeSet<String> = ["a", "a-1", "why-1e-4-and-not-0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(anchors, expected);
}

#[test]
fn the_index_lists_every_page_and_the_readme_links_it() {
    let index = read(Path::new("docs/README.md"));
    let listed: Vec<String> = index
        .lines()
        .filter(|l| l.starts_with("- ["))
        .flat_map(link_targets)
        .collect();
    let pages: Vec<String> = pages()
        .iter()
        .filter(|p| p.starts_with("docs") && !p.ends_with("README.md"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, pages, "docs/README.md: one line per page");
    let readme = read(Path::new("README.md"));
    let targets = link_targets(&readme);
    assert!(targets.iter().any(|t| t == "docs/README.md"));
    for page in &pages {
        assert!(
            targets.iter().any(|t| t == &format!("docs/{page}")),
            "README.md does not link docs/{page}"
        );
    }
}

// ------------------------------------------------------------------------- command lines

/// A command line as a shell splits it: quotes and backslashes, `#` comments, and
/// nothing from the first `|`, `&&`, `;` or redirection on.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut has_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                has_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                has_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                has_word = true;
                word.extend(chars.next());
            }
            '#' if !has_word => break,
            c if c.is_whitespace() => {
                if has_word {
                    words.push(std::mem::take(&mut word));
                    has_word = false;
                }
            }
            c => {
                has_word = true;
                word.push(c);
            }
        }
    }
    if has_word {
        words.push(word);
    }
    let end = words
        .iter()
        .position(|w| ["|", "&&", ";", ">", "2>&1", "2>"].contains(&w.as_str()))
        .unwrap_or(words.len());
    words.truncate(end);
    words
}

/// Which program a command line starts.
#[derive(Debug, PartialEq)]
enum Program {
    /// `runner`, `target/release/runner` or `cargo run --release --`.
    Runner,
    RunnerTrace,
    Other(String),
}

/// A command line of a ```sh block, split into its environment, program and arguments.
#[derive(Debug)]
struct CommandLine {
    page: String,
    line: String,
    env: Vec<(String, String)>,
    program: Program,
    args: Vec<String>,
}

fn command_line(page: &str, line: &str) -> Option<CommandLine> {
    let mut words = shell_words(line);
    if words.is_empty() {
        return None;
    }
    let mut env = Vec::new();
    while let Some((k, v)) = words[0].split_once('=') {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            break;
        }
        env.push((k.to_string(), v.to_string()));
        words.remove(0);
    }
    // Wrappers that time or pin the command.
    loop {
        match words.first().map(String::as_str) {
            Some("/usr/bin/time") if words.get(1).is_some_and(|w| w == "-v") => {
                words.drain(..2);
            }
            Some("taskset") if words.get(1).is_some_and(|w| w == "-c") => {
                words.drain(..3.min(words.len()));
            }
            _ => break,
        }
    }
    let (program, skip) = match words.first().map(String::as_str)? {
        "runner" | "target/release/runner" => (Program::Runner, 1),
        "runner-trace" | "target/release/runner-trace" => (Program::RunnerTrace, 1),
        "cargo" if words.len() >= 4 && words[1..4] == ["run", "--release", "--"] => {
            (Program::Runner, 4)
        }
        other => (Program::Other(other.to_string()), 1),
    };
    Some(CommandLine {
        page: page.to_string(),
        line: line.to_string(),
        env,
        program,
        args: words[skip..].to_vec(),
    })
}

/// Every command line of the ```sh blocks of `page` (continued lines joined).
fn page_commands(page: &Path) -> Vec<CommandLine> {
    let text = read(page);
    let mut out = Vec::new();
    for block in blocks(&text).iter().filter(|b| b.info == "sh") {
        let joined = block.text.replace("\\\n", " ");
        out.extend(
            joined
                .lines()
                .filter_map(|l| command_line(&page.display().to_string(), l)),
        );
    }
    out
}

/// The options `--help` of `exe` lists, long and short: `--jobs`, `-j`, ...
fn help_options(exe: &str) -> BTreeSet<String> {
    let out = Command::new(exe)
        .arg("--help")
        .output()
        .expect("--help runs");
    assert!(out.status.success());
    let mut options = BTreeSet::new();
    for line in text(&out.stdout).lines() {
        let line = line.trim_start();
        if !line.starts_with('-') {
            continue;
        }
        let names = line.split("  ").next().unwrap_or_default();
        for name in names.split(", ") {
            let name = name.split_whitespace().next().unwrap_or_default();
            options.insert(name.trim_end_matches("...").to_string());
        }
    }
    options
}

/// Every `-x`/`--xyz` in `text` (a backslash-escaped `|` ends one).
fn named_options(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace() || "`,()|\\/[]".contains(c)) {
        let word = word.trim_end_matches(['.', ':', ';', '\'', '"']);
        let is_long = word.len() > 2
            && word.starts_with("--")
            && word.as_bytes()[2].is_ascii_lowercase()
            && word[2..]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-');
        let is_short =
            word.len() == 2 && word.starts_with('-') && word.as_bytes()[1].is_ascii_alphabetic();
        if is_long || is_short {
            out.insert(word.split('=').next().unwrap().to_string());
        }
    }
    out
}

/// The text of `page` from the heading `heading` to the next heading of its level or above.
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let start = page
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?}"))
        + 1;
    let body = &page[start + heading.len()..];
    let mut offset = 0;
    let mut inside = false;
    for line in body.split_inclusive('\n') {
        if line.starts_with("```") {
            inside = !inside;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !inside && hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
            break;
        }
        offset += line.len();
    }
    &body[..offset]
}

/// The first cells of the rows of the first table in `text` (header row left out).
fn first_cells(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            // A `\|` inside a cell is not a column separator.
            let row = l.replace("\\|", "\u{1}");
            row.split('|')
                .nth(1)
                .unwrap_or_default()
                .replace('\u{1}', "\\|")
        })
        .collect()
}

#[test]
fn every_runner_command_shown_parses_and_dry_runs() {
    use clap::Parser;
    let mut problems = Vec::new();
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    let trace_options = help_options(env!("CARGO_BIN_EXE_runner-trace"));
    for page in pages() {
        for cmd in page_commands(&page) {
            if cmd.args.iter().any(|a| a == "...") {
                continue; // "the same, ...": a placeholder, not a command
            }
            match cmd.program {
                Program::Runner => {}
                Program::RunnerTrace => {
                    for option in cmd.args.iter().filter(|a| a.starts_with('-')) {
                        if !trace_options.contains(option) {
                            problems.push(format!(
                                "{}: `{}`: runner-trace has no {option}",
                                cmd.page, cmd.line
                            ));
                        }
                    }
                    continue;
                }
                Program::Other(_) => continue,
            }
            *checked.entry(cmd.page.clone()).or_default() += 1;
            let argv = std::iter::once("runner").chain(cmd.args.iter().map(String::as_str));
            if let Err(e) = runner::cli::Args::try_parse_from(argv) {
                problems.push(format!("{}: `{}` does not parse:\n{e}", cmd.page, cmd.line));
                continue;
            }
            let has = |o: &str| cmd.args.iter().any(|a| a == o);
            if has("--verify") || has("--summarize") {
                continue; // they cannot dry-run; parsing is what is checked
            }
            let on_gpu = cmd.args.iter().any(|a| a.starts_with("cuda"));
            if on_gpu && !cfg!(feature = "cuda") {
                continue; // a build without CUDA refuses GPU commands, dry or not
            }
            let mut args: Vec<&str> = cmd.args.iter().map(String::as_str).collect();
            if !has("--dry-run") {
                args.push("--dry-run");
            }
            let mut run = command_without_data_dir(&args, repo());
            for (k, v) in &cmd.env {
                run.env(k, v);
            }
            let out = run.output().expect("runner starts");
            if !out.status.success() {
                problems.push(format!(
                    "{}: `{}` with --dry-run exits {:?}:\n{}",
                    cmd.page,
                    cmd.line,
                    out.status.code(),
                    text(&out.stderr)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    for (page, at_least) in [("README.md", 4), ("docs/command-line.md", 12)] {
        let n = checked.get(page).copied().unwrap_or(0);
        assert!(n >= at_least, "{page}: only {n} runner commands found");
    }
}

#[test]
fn the_option_tables_are_exactly_the_options_of_help() {
    let page = read(Path::new("docs/command-line.md"));
    for (heading, exe) in [
        ("## Options", env!("CARGO_BIN_EXE_runner")),
        ("## runner-trace", env!("CARGO_BIN_EXE_runner-trace")),
    ] {
        let documented: BTreeSet<String> = first_cells(section(&page, heading))
            .iter()
            .flat_map(|cell| named_options(cell))
            .collect();
        let help = help_options(exe);
        let undocumented: Vec<_> = help.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&help).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "docs/command-line.md, {heading}: options of {exe} --help missing from the table: {undocumented:?}; in the table but not in --help: {unknown:?}"
        );
    }
}

#[test]
fn every_option_the_command_line_page_names_exists() {
    let page = read(Path::new("docs/command-line.md"));
    let trace_start = page
        .find("\n## runner-trace\n")
        .expect("runner-trace section");
    // cargo's own options, in `cargo build --release --features cuda` and `cargo run --release --`.
    let cargo: BTreeSet<String> = ["--release", "--features"].map(String::from).into();
    let runner = help_options(env!("CARGO_BIN_EXE_runner"));
    // The runner-trace section also names runner's options (`runner --dry-run` lists the ids).
    let trace: BTreeSet<String> = help_options(env!("CARGO_BIN_EXE_runner-trace"))
        .union(&runner)
        .cloned()
        .collect();
    for (text, help, what) in [
        (&page[..trace_start], &runner, "runner"),
        (&page[trace_start..], &trace, "runner-trace (or runner)"),
    ] {
        let unknown: Vec<_> = named_options(text)
            .into_iter()
            .filter(|o| !help.contains(o) && !cargo.contains(o))
            .collect();
        assert!(
            unknown.is_empty(),
            "docs/command-line.md names options that {what} --help lacks: {unknown:?}"
        );
    }
}

#[test]
fn shell_words_split_as_a_shell_does() {
    assert_eq!(
        shell_words("runner --set 'sweep.hidden=[[256]]' -q x.toml   # a comment"),
        ["runner", "--set", "sweep.hidden=[[256]]", "-q", "x.toml"]
    );
    assert_eq!(shell_words("a \"b c\" d\\ e | head"), ["a", "b c", "d e"]);
    let cmd = command_line(
        "p",
        "JOB_COMPLETION_INDEX=1 /usr/bin/time -v target/release/runner x",
    )
    .unwrap();
    assert_eq!(cmd.program, Program::Runner);
    assert_eq!(
        cmd.env,
        [("JOB_COMPLETION_INDEX".to_string(), "1".to_string())]
    );
    assert_eq!(cmd.args, ["x"]);
    let cmd = command_line("p", "cargo run --release -- --verify x").unwrap();
    assert_eq!(
        (cmd.program, cmd.args),
        (
            Program::Runner,
            vec!["--verify".to_string(), "x".to_string()]
        )
    );
}

// ---------------------------------------------------------------- examples that must run

/// The README's tour, run as written in a fresh folder: its file is experiments/tour.toml,
/// its commands run in order, and each `<!-- output -->` block is what the command before
/// it prints.
#[test]
fn the_readme_tour_runs_as_written() {
    let readme = read(Path::new("README.md"));
    let start = readme
        .find("<!-- tour -->")
        .expect("README has <!-- tour -->");
    let end = readme
        .find("<!-- /tour -->")
        .expect("README has <!-- /tour -->");
    let tour = &readme[start..end];
    let dir = tempfile::tempdir().unwrap();
    let mut last_stdout: Option<String> = None;
    let mut files = 0;
    let mut outputs = 0;
    let mut commands = 0;
    for block in blocks(tour) {
        if let Some(path) = block
            .before
            .strip_prefix("<!-- file:")
            .and_then(|r| r.strip_suffix(" -->"))
        {
            let committed = std::fs::read_to_string(repo().join(path)).unwrap();
            assert_eq!(
                block.text, committed,
                "README.md's tour shows {path} as it is"
            );
            let copy = dir.path().join(path);
            std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
            std::fs::write(copy, committed).unwrap();
            files += 1;
        } else if block.before == "<!-- output -->" {
            let shown = last_stdout
                .take()
                .expect("an output block follows a command");
            assert_eq!(
                without_estimate(&shown),
                without_estimate(&block.text),
                "README.md's tour: what the command prints"
            );
            outputs += 1;
        } else if block.info == "sh" {
            for line in block.text.lines() {
                let cmd = command_line("README.md", line).expect("a command");
                let stdout = match &cmd.program {
                    Program::Runner => {
                        let args: Vec<&str> = cmd.args.iter().map(String::as_str).collect();
                        let out = command(&args, dir.path()).output().unwrap();
                        assert!(
                            out.status.success(),
                            "`{line}` exits {:?}:\n{}",
                            out.status.code(),
                            text(&out.stderr)
                        );
                        text(&out.stdout)
                    }
                    Program::Other(ls) if ls == "ls" && cmd.args.len() == 1 => {
                        let mut names: Vec<String> =
                            std::fs::read_dir(dir.path().join(&cmd.args[0]))
                                .unwrap()
                                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                                .filter(|n| !n.starts_with('.'))
                                .collect();
                        names.sort();
                        names.iter().map(|n| format!("{n}\n")).collect()
                    }
                    other => panic!("the tour runs runner and ls only, not {other:?}"),
                };
                commands += 1;
                last_stdout = Some(stdout);
            }
        }
    }
    assert_eq!((files, commands, outputs), (1, 4, 3), "the tour's shape");
}

/// Each ```toml block of the pages is a valid experiment file.
#[test]
fn every_experiment_file_shown_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for page in pages() {
        for (i, block) in blocks(&read(&page)).iter().enumerate() {
            if block.info != "toml" {
                continue;
            }
            let path = dir.path().join(format!("block{i}.toml"));
            std::fs::write(&path, &block.text).unwrap();
            if let Err(e) = runner::config::load(&path, &[]) {
                panic!(
                    "{}: the toml block at byte {}: {e:#}",
                    page.display(),
                    block.at
                );
            }
            n += 1;
        }
    }
    assert!(n >= 2, "only {n} experiment files shown");
}

/// `<!-- dry-run:NAME.toml -->` before a block: the block is what `runner --dry-run
/// NAME.toml` prints for the ```toml block shown above it, saved as NAME.toml.
#[test]
fn dry_runs_shown_are_what_runner_prints() {
    let mut n = 0;
    for page in pages() {
        let all = blocks(&read(&page));
        for (i, block) in all.iter().enumerate() {
            let Some(name) = block
                .before
                .strip_prefix("<!-- dry-run:")
                .and_then(|r| r.strip_suffix(" -->"))
            else {
                continue;
            };
            let file = all[..i]
                .iter()
                .rev()
                .find(|b| b.info == "toml")
                .expect("a ```toml block before the dry run");
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(name), &file.text).unwrap();
            let out = command_without_data_dir(&["--dry-run", name], dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(
                without_estimate(&text(&out.stdout)),
                without_estimate(&block.text),
                "{}: --dry-run {name}",
                page.display()
            );
            n += 1;
        }
    }
    assert!(n >= 1);
}

// ------------------------------------------------------------- settings and columns

fn keys_of_table(page: &str, heading: &str) -> Vec<String> {
    let text = read(Path::new(page));
    first_cells(section(&text, heading))
        .iter()
        .map(|c| c.trim().trim_matches('`').to_string())
        .collect()
}

#[test]
fn the_settings_tables_list_every_setting() {
    let settings: Vec<String> = runner::config::settings::axis_keys()
        .map(String::from)
        .collect();
    assert_eq!(
        keys_of_table("docs/experiment-file.md", "## Settings"),
        settings,
        "docs/experiment-file.md: one row per setting, in the order of config::settings"
    );
    let columns: Vec<String> = runner::report::columns::settings()
        .map(String::from)
        .collect();
    assert_eq!(
        keys_of_table("docs/results.md", "## Settings columns"),
        columns,
        "docs/results.md: one row per setting column"
    );
}

/// The header of a committed CSV file.
fn header(path: &Path) -> Vec<String> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader.headers().unwrap().iter().map(String::from).collect()
}

/// Whether `section` documents `column`: by name, as one of the settings, or as `C_...`
/// for a cost C.
fn documents(section: &str, column: &str, settings: &BTreeSet<String>) -> bool {
    const COSTS: [&str; 4] = [
        "final_train_cost",
        "final_test_cost",
        "best_train_cost",
        "best_test_cost",
    ];
    let named = |name: &str| section.contains(&format!("`{name}`"));
    named(column)
        || (settings.contains(column) && section.contains("settings"))
        || COSTS.iter().any(|c| {
            column
                .strip_prefix(c)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|rest| named(&format!("C_{rest}")))
        })
}

#[test]
fn every_column_of_the_committed_reports_is_documented() {
    let page = read(Path::new("docs/results.md"));
    let settings: BTreeSet<String> = runner::report::columns::settings()
        .map(String::from)
        .collect();
    let mut missing = Vec::new();
    for experiment in ["depth_sweep", "smoke", "adam_dfdx"] {
        let dir = repo().join("results").join(experiment);
        let run = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.join("metrics.csv").exists())
            .expect("a finished run");
        for (heading, file) in [
            ("## `summary.csv`", dir.join("summary.csv")),
            ("## `epochs.csv`", dir.join("epochs.csv")),
            ("## `stats.csv`", dir.join("stats.csv")),
            ("## `comparisons.csv`", dir.join("comparisons.csv")),
            ("### `metrics.csv`", run.join("metrics.csv")),
        ] {
            let text = section(&page, heading);
            for column in header(&file) {
                if !documents(text, &column, &settings) {
                    missing.push(
                        format!("{} ({heading})", file.display())
                            .replace(&format!("{}/", repo().display()), "")
                            + &format!(": {column}"),
                    );
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "columns docs/results.md does not document:\n{}",
        missing.join("\n")
    );
}

// ------------------------------------------------------------------ reliability's tests

#[test]
fn every_test_reliability_names_exists() {
    let page = read(Path::new("docs/reliability.md"));
    let mut problems = Vec::new();
    let mut named = 0;
    for line in page.lines().filter(|l| l.starts_with('|')).skip(2) {
        let Some(cell) = line.split('|').nth(2) else {
            continue;
        };
        let items: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
        let files: Vec<&str> = items
            .iter()
            .copied()
            .filter(|i| i.ends_with(".rs"))
            .collect();
        let sources: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(repo().join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
            .collect();
        for name in items.iter().filter(|i| {
            i.contains('_')
                && i.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }) {
            named += 1;
            if !sources.iter().any(|s| s.contains(&format!("fn {name}("))) {
                problems.push(format!("{name} is in none of {files:?}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/reliability.md:\n{}",
        problems.join("\n")
    );
    assert!(named > 20, "only {named} tests named");
}

// ------------------------------------------------------------ the replication's tables

/// A table of the committed `results/<experiment>/stats.md`, found by its heading.
fn stats_table(experiment: &str, heading: &str) -> String {
    let path = repo().join("results").join(experiment).join("stats.md");
    let text = std::fs::read_to_string(&path).unwrap();
    stats::section_table(&text, heading)
        .unwrap_or_else(|| panic!("{} has no table under {heading:?}", path.display()))
        .to_string()
}

#[test]
fn depth_sweep_tables_are_the_committed_stats() {
    assert_eq!(
        table_block(REPLICATION, "depth_sweep"),
        stats_table("depth_sweep", stats::FINAL_HEADING),
        "regenerate with runner --summarize and paste the table of stats.md"
    );
    assert_eq!(
        table_block(REPLICATION, "depth_sweep_comparisons"),
        stats_table("depth_sweep", stats::COMPARISONS_HEADING),
        "regenerate with runner --summarize and paste the table of stats.md"
    );
}

/// Final train cost (last `Epoch:` line) and `test_cost` of one TensorFlow log.
fn tensorflow_finals(log: &str) -> (f64, f64) {
    let value = |prefix: &str| -> f64 {
        log.lines()
            .rev()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} line"))
    };
    (value("Epoch: "), value("test_cost: "))
}

/// The TensorFlow table from `results/tensorflow/<variant>d<depth>_s<seed>.log`.
fn tensorflow_table() -> String {
    let dir = repo().join("results/tensorflow");
    let mut groups: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".log") else {
            continue;
        };
        let Some((group, _seed)) = stem.rsplit_once("_s") else {
            continue;
        };
        let log = std::fs::read_to_string(dir.join(&name)).unwrap();
        groups
            .entry(group.to_string())
            .or_default()
            .push(tensorflow_finals(&log));
    }
    let columns: Vec<(String, Vec<f64>, Vec<f64>)> = groups
        .into_iter()
        .map(|(group, finals)| {
            let train = finals.iter().map(|f| f.0).collect();
            let test = finals.iter().map(|f| f.1).collect();
            (group, train, test)
        })
        .collect();
    let lines: Vec<stats::Line> = columns
        .iter()
        .map(|(name, train, test)| stats::Line {
            name,
            planned: train.len(),
            failed: 0,
            train,
            test,
            clean: &[],
        })
        .collect();
    stats::table("program", &lines)
}

#[test]
fn tensorflow_table_is_the_committed_logs() {
    assert_eq!(table_block(REPLICATION, "tensorflow"), tensorflow_table());
}

/// Final train costs of one architecture's finished runs in `results/<experiment>/summary.csv`.
fn runner_finals(experiment: &str, hidden: &str) -> Vec<f64> {
    let path = repo().join("results").join(experiment).join("summary.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (h, status, cost) = (col("hidden"), col("status"), col("final_train_cost"));
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[h] == hidden && &r[status] == "done")
        .map(|r| r[cost].parse().unwrap())
        .collect()
}

/// Final train costs of `results/tensorflow/<program>_<arch>_s<seed>.log`.
fn tensorflow_program_finals(program: &str, arch: &str) -> Vec<f64> {
    let dir = repo().join("results/tensorflow");
    let prefix = format!("{program}_{arch}_s");
    let mut finals = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let seed = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".log"));
        if seed.is_some_and(|s| s.chars().all(|c| c.is_ascii_digit())) {
            let log = std::fs::read_to_string(dir.join(&name)).unwrap();
            finals.push(tensorflow_finals(&log).0);
        }
    }
    finals
}

/// The replication in one table: per depth, runner (each Adam formula) and the tutorial's
/// program with runner's draws against the tutorial's program; then, per program, two
/// hidden layers against one. Each row: the difference of the mean final train costs
/// (b − a) with its 95% interval and Welch's p-value.
fn replication_table() -> String {
    use runner::report::compare::welch;
    let mut out = String::from(
        "| depth | a | b | runs | a: mean | b: mean | b − a | 95% CI | p |\n|---|---|---|---:|---:|---:|---:|---|---:|\n",
    );
    let mut row = |depth: &str, a_name: &str, a: &[f64], b_name: &str, b: &[f64]| {
        if a.is_empty() || b.is_empty() {
            return;
        }
        let w = welch(a, b);
        let mean = |v: &[f64]| stats::show(stats::describe(v).map(|d| d.mean));
        out.push_str(&format!(
            "| {depth} | {a_name} | {b_name} | {}, {} | {} | {} | {} | {} | {} |\n",
            a.len(),
            b.len(),
            mean(a),
            mean(b),
            stats::show(w.map(|w| w.diff)),
            stats::show_interval(w.map(|w| w.ci95)),
            match w.map(|w| w.p) {
                None => "–".to_string(),
                Some(p) if p < 0.001 => "< 0.001".to_string(),
                Some(p) => format!("{p:.3}"),
            },
        ));
    };
    const TF: &str = "TF program";
    const TF1: &str = "runner, TF1's Adam (`depth_sweep`)";
    const DFDX: &str = "runner, dfdx's Adam (`adam_dfdx`)";
    const SWAP: &str = "TF program with runner's draws";
    let depths = [
        ("1", "784-256-784", "h256"),
        ("2", "784-256-128-256-784", "h256x128"),
    ];
    let per_depth: Vec<[Vec<f64>; 4]> = depths
        .iter()
        .map(|(_, arch, hidden)| {
            [
                tensorflow_program_finals("tf", arch),
                runner_finals("depth_sweep", hidden),
                runner_finals("adam_dfdx", hidden),
                tensorflow_program_finals("swap-init-order-noise", arch),
            ]
        })
        .collect();
    for ((depth, _, _), [tf, tf1, dfdx, swap]) in depths.iter().zip(&per_depth) {
        row(depth, TF, tf, TF1, tf1);
        row(depth, TF, tf, DFDX, dfdx);
        row(depth, TF, tf, SWAP, swap);
    }
    for (i, name) in [TF, TF1, DFDX].into_iter().enumerate() {
        let (one, two) = (&per_depth[0][i], &per_depth[1][i]);
        row("1 → 2", &format!("{name}, 1 layer"), one, "2 layers", two);
    }
    out
}

#[test]
fn replication_table_is_the_committed_results() {
    assert_eq!(table_block(REPLICATION, "replication"), replication_table());
}

/// The table of a committed replay report, `results/replay/<run id>.md` (its first line,
/// which names the run, stays out).
fn replay_table(run: &str) -> String {
    let path = repo().join("results/replay").join(format!("{run}.md"));
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("| replay").expect("a replay table");
    text[start..].to_string()
}

#[test]
fn replay_tables_are_the_committed_reports() {
    for (block, run) in [
        ("replay_h256", "h256_noise0.6_lr0.01_seed1"),
        ("replay_h256-128", "h256-128_noise0.6_lr0.01_seed1"),
    ] {
        assert_eq!(
            table_block(REPLICATION, block),
            replay_table(run),
            "scripts/reference/replay_report.sh writes {run}.md"
        );
    }
}

/// `--dry-run`'s output with its time estimate cut off: the estimate comes from a step
/// measured on the machine at hand, the counts before it are the same everywhere.
fn without_estimate(output: &str) -> String {
    output
        .lines()
        .map(|l| match l.split_once("; estimated") {
            Some((budget, _)) if l.starts_with("budget:") => format!("{budget}; estimated ..."),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
