"""Reads a runner experiment's TensorBoard files back with the `tensorboard` package.

Usage: tensorboard_check.py EXPERIMENT_DIR RUN_ID=STATUS...

For each RUN_ID (a folder of EXPERIMENT_DIR holding metrics.csv, config.toml and
reconstruction.png; STATUS as in api.proto, e.g. STATUS_SUCCESS):

1. EventAccumulator finds train_cost, test_cost and seconds once per epoch, each equal
   (as float32, TensorBoard's simple_value) to metrics.csv, and the image equal to
   reconstruction.png;
2. the HParams plugin data (plugin_data_pb2) holds the session's hparams, equal to
   config.toml's values, and its status; the experiment folder's own file holds the
   experiment, naming the same hparams;
3. the real server, started on 127.0.0.1 with each of its two loaders (the Rust data
   server, --load_fast=true, and the Python one, --load_fast=false), answers the hparams
   plugin's /experiment and /session_groups and the scalars and images plugins with
   the same. The servers are stopped in any case.

Exits 1 with a message on the first mismatch; prints what the server returned.
"""

import csv
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

try:
    import tomllib
except ModuleNotFoundError:  # Python before 3.11
    import tomli as tomllib

SCALARS = ("train_cost", "test_cost", "test_cost_clean", "seconds")
METRICS = ("train_cost", "test_cost", "test_cost_clean")
IMAGE = "reconstruction"
EXPERIMENT_TAG = "_hparams_/experiment"
START_TAG = "_hparams_/session_start_info"
END_TAG = "_hparams_/session_end_info"
SERVER_WAIT_S = 15


def fail(message):
    sys.exit(f"tensorboard_check: {message}")


def expect(condition, message):
    if not condition:
        fail(message)


def f32(x):
    """What a float becomes in a simple_value."""
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def metrics_csv(run_dir):
    """{tag: [(epoch, value)]} from metrics.csv."""
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    return {tag: [(int(r["epoch"]), float(r[tag])) for r in rows] for tag in SCALARS}


def config_values(run_dir):
    """config.toml's scalar settings under dotted names (train.learning_rate)."""
    with open(os.path.join(run_dir, "config.toml"), "rb") as f:
        table = tomllib.load(f)
    flat = {}

    def walk(prefix, node):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(f"{prefix}{key}.", value)
            else:
                flat[prefix + key] = value

    walk("", table)
    return flat


def same_value(expected, got):
    """A config value against a JSON or google.protobuf.Value one, kind included. A list
    of layer widths is shown as its summary.csv text (`h256x128`)."""
    if isinstance(expected, list):
        return got == "h" + "x".join(str(w) for w in expected)
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    return expected == got


def proto_value(v):
    kind = v.WhichOneof("kind")
    expect(
        kind in ("number_value", "string_value", "bool_value"),
        f"unexpected hparam kind {kind}",
    )
    return getattr(v, kind)


def accumulator(path):
    acc = ea.EventAccumulator(
        path, size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0}
    )
    acc.Reload()
    return acc


def plugin_data(acc, tag, field, where):
    content = acc.PluginTagToContent("hparams").get(tag)
    expect(content is not None, f"{where}: no {tag}")
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    expect(data.version == 0, f"{where}: plugin data version {data.version}")
    expect(data.HasField(field), f"{where}: {tag} holds no {field}")
    return getattr(data, field)


def check_scalars(acc, run_dir, run):
    for tag, rows in metrics_csv(run_dir).items():
        events = acc.Scalars(tag)
        got = [(e.step, e.value) for e in events]
        want = [(epoch, f32(value)) for epoch, value in rows]
        expect(got == want, f"{run}: {tag} is {got}, metrics.csv says {want}")


def check_image(acc, run_dir, run):
    expect(IMAGE in acc.Tags()["images"], f"{run}: no image {IMAGE}")
    images = acc.Images(IMAGE)
    expect(len(images) == 1, f"{run}: {len(images)} images")
    with open(os.path.join(run_dir, "reconstruction.png"), "rb") as f:
        png = f.read()
    expect(images[0].encoded_image_string == png, f"{run}: image differs")
    width, height = struct.unpack(">II", png[16:24])
    size = (images[0].width, images[0].height)
    expect(size == (width, height), f"{run}: image size {size}")


def check_session(acc, run_dir, run, status):
    start = plugin_data(acc, START_TAG, "session_start_info", run)
    config = config_values(run_dir)
    for name, value in start.hparams.items():
        expect(name in config, f"{run}: hparam {name} is not in config.toml")
        got = proto_value(value)
        expect(
            same_value(config[name], got),
            f"{run}: hparam {name} is {got!r}, config.toml says {config[name]!r}",
        )
    end = plugin_data(acc, END_TAG, "session_end_info", run)
    got = api_pb2.Status.Name(end.status)
    expect(got == status, f"{run}: status {got}, expected {status}")
    return set(start.hparams)


def check_files(experiment_dir, statuses):
    names = None
    for run, status in statuses.items():
        run_dir = os.path.join(experiment_dir, run)
        acc = accumulator(run_dir)
        check_scalars(acc, run_dir, run)
        check_image(acc, run_dir, run)
        hparams = check_session(acc, run_dir, run, status)
        expect(names in (None, hparams), f"{run}: hparams {hparams}, others {names}")
        names = hparams
    experiment = plugin_data(
        accumulator(experiment_dir), EXPERIMENT_TAG, "experiment", "experiment"
    )
    declared = {h.name for h in experiment.hparam_infos}
    expect(declared == names, f"experiment declares {declared}, sessions hold {names}")
    metrics = {m.name.tag for m in experiment.metric_infos}
    expect(metrics == set(METRICS), f"experiment metrics {metrics}")
    print(f"files: {len(statuses)} runs, hparams {sorted(names)}, statuses as expected")
    return names


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(experiment_dir, load_fast, log):
    port = free_port()
    args = [sys.executable, "-m", "tensorboard.main", "--logdir", experiment_dir]
    args += ["--host", "127.0.0.1", "--port", str(port), f"--load_fast={load_fast}"]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def http(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.read()


def get_json(url, body=None):
    return json.loads(http(url, body))


def session_groups_request(names):
    cols = [{"hparam": n} for n in sorted(names)]
    cols += [{"metric": {"group": "", "tag": t}} for t in METRICS]
    return {
        "experimentName": "",
        "allowedStatuses": list(api_pb2.Status.keys()),
        "colParams": cols,
        "startIndex": 0,
        "sliceSize": 100,
    }


def wait_for_groups(base, names, count, proc, log_path):
    """The session groups once every run's session and metrics are loaded."""
    url = base + "/data/plugin/hparams/session_groups"
    deadline = time.monotonic() + SERVER_WAIT_S
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"tensorboard exited ({proc.returncode}):\n{open(log_path).read()}")
        try:
            last = get_json(url, session_groups_request(names))
            groups = last.get("sessionGroups", [])
            loaded = [
                s for g in groups for s in g.get("sessions", [])
                if len(s.get("metricValues", [])) == len(METRICS)
            ]
            if len(loaded) == count:
                return groups
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    fail(f"{base}: session groups not all there after {SERVER_WAIT_S} s: {last}\n"
         f"{open(log_path).read()}")


def check_experiment_route(base, names):
    experiment = get_json(base + "/data/plugin/hparams/experiment", {"experimentName": ""})
    declared = {h["name"] for h in experiment.get("hparamInfos", [])}
    expect(declared == names, f"{base}/experiment: hparams {declared}")
    metrics = {m["name"]["tag"] for m in experiment.get("metricInfos", [])}
    expect(metrics == set(METRICS), f"{base}/experiment: metrics {metrics}")
    return experiment


def check_groups(base, groups, experiment_dir, statuses):
    """Every run is one session; sessions of one group (a configuration: the runs that
    differ only in their seed) share their hparams but those that differ among them."""
    sessions = [(g, s) for g in groups for s in g["sessions"]]
    expect(len(sessions) == len(statuses), f"{base}: {len(sessions)} sessions")
    for group, session in sessions:
        run = session["name"]
        expect(run in statuses, f"{base}: unknown session {run}")
        run_dir = os.path.join(experiment_dir, run)
        config = config_values(run_dir)
        members = [config_values(os.path.join(experiment_dir, s["name"])) for s in group["sessions"]]
        for name, value in group["hparams"].items():
            shared = all(same_value(m[name], value) for m in members)
            varies = len({repr(m[name]) for m in members}) > 1
            expect(shared or varies, f"{base}: {run} {name} = {value!r}")
        status = session.get("status", "STATUS_UNKNOWN")
        expect(status == statuses[run], f"{base}: {run} status {status}")
        last = {tag: rows[-1] for tag, rows in metrics_csv(run_dir).items()}
        for mv in session["metricValues"]:
            tag = mv["name"]["tag"]
            epoch, value = last[tag]
            got = (mv.get("trainingStep", 0), mv["value"])
            expect(got == (epoch, f32(value)), f"{base}: {run} {tag} = {got}")


def check_scalar_and_image_routes(base, experiment_dir, statuses):
    for run in statuses:
        run_dir = os.path.join(experiment_dir, run)
        for tag, rows in metrics_csv(run_dir).items():
            q = urllib.parse.urlencode({"run": run, "tag": tag})
            got = [(s, v) for _, s, v in get_json(f"{base}/data/plugin/scalars/scalars?{q}")]
            want = [(epoch, f32(value)) for epoch, value in rows]
            expect(got == want, f"{base}: scalars {run}/{tag} {got}, want {want}")
        q = urllib.parse.urlencode({"run": run, "tag": IMAGE, "sample": 0})
        images = get_json(f"{base}/data/plugin/images/images?{q}")
        expect(len(images) == 1, f"{base}: images {run}: {images}")
        png = http(f"{base}/data/plugin/images/individualImage?{images[0]['query']}")
        with open(os.path.join(run_dir, "reconstruction.png"), "rb") as f:
            expect(png == f.read(), f"{base}: image of {run} differs")


def check_servers(experiment_dir, statuses, names):
    logs = os.path.join(os.path.dirname(os.path.abspath(experiment_dir)), "tensorboard-logs")
    os.makedirs(logs, exist_ok=True)
    servers = []
    try:
        for load_fast in ("true", "false"):
            log_path = os.path.join(logs, f"load_fast_{load_fast}.log")
            log = open(log_path, "w")
            proc, base = start_server(experiment_dir, load_fast, log)
            servers.append((proc, base, log_path, load_fast))
        for proc, base, log_path, load_fast in servers:
            groups = wait_for_groups(base, names, len(statuses), proc, log_path)
            experiment = check_experiment_route(base, names)
            check_groups(base, groups, experiment_dir, statuses)
            check_scalar_and_image_routes(base, experiment_dir, statuses)
            print(f"server --load_fast={load_fast}: /data/plugin/hparams/experiment: "
                  f"{json.dumps(experiment, sort_keys=True)}")
            print(f"server --load_fast={load_fast}: /data/plugin/hparams/session_groups: "
                  f"{json.dumps(groups, sort_keys=True)}")
            print(f"server --load_fast={load_fast}: scalars and images of "
                  f"{len(statuses)} runs as in metrics.csv and reconstruction.png")
    finally:
        for proc, *_ in servers:
            stop(proc)


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    experiment_dir = sys.argv[1]
    statuses = dict(arg.split("=", 1) for arg in sys.argv[2:])
    names = check_files(experiment_dir, statuses)
    check_servers(experiment_dir, statuses, names)


if __name__ == "__main__":
    main()
