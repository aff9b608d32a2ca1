#!/usr/bin/env python3
"""Replays a runner trace step for step in implementations that share no code with runner.

    runner-trace experiments/depth_sweep.toml --run h256_noise0.6_lr0.01_seed1 --out T
    python3 scripts/reference/replay.py T                      # numpy float64, both Adams
    python3 scripts/reference/replay.py T --impl tf --impl numpy64 --adam tf1 --adam dfdx

A trace (see runner's src/train/trace.rs) holds the initial parameters, every step's batch
(clean pixels as bytes, noisy inputs as float32) and every step's cost as runner computed
it. Each implementation starts from the same parameters, is fed exactly the same inputs and
reports its own cost per step, computed before the step's update as runner and the tutorial
do. The implementations:

  numpy64  plain numpy in float64: forward, backward and Adam written out here
  numpy32  the same in float32 (what changes with float32 rounding alone)
  tf       the tutorial's TensorFlow 1 graph (tf.compat.v1; float32, oneDNN kernels)

and two Adam formulas, both with beta1 0.9, beta2 0.999, epsilon 1e-8:

  tf1   TensorFlow 1's AdamOptimizer: lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t),
        p -= lr_t * m / (sqrt(v) + eps)         (epsilon outside the bias correction)
  dfdx  dfdx's (and the Adam paper's): p -= lr * m_hat / (sqrt(v_hat) + eps),
        m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)

The summary gives, per implementation, the relative difference |c_replay - c_runner| /
c_runner of the per-step cost: its largest value over steps 1-10, 11-100, 101-K and all
steps, and the first step where it exceeds 1e-6, 1e-5, 1e-4 and 1e-3. --csv writes every
step's costs. With both numpy64 and numpy32, a last row compares numpy32 with numpy64: how
far float32 rounding alone carries two implementations of the same formulas apart.
--check REPLAY<=T (or >=T) exits 1 unless that replay's largest relative difference from
runner is at most (at least) T; REPLAY is IMPL/FORMULA with FORMULA one of tf1, dfdx, own
(the trace's) or other, e.g. --check 'numpy32/own<=2e-5' --check 'numpy32/other>=1e-3'.
The test suite's fast replay uses it.
"""
import argparse
import math
import os
import sys

import numpy as np

B1, B2, EPS = 0.9, 0.999, 1e-8


def load_trace(path):
    def npy(name, mmap=False):
        return np.load(os.path.join(path, name + ".npy"), mmap_mode="r" if mmap else None)

    layers = 0
    while os.path.exists(os.path.join(path, f"init_w{layers}.npy")):
        layers += 1
    if layers == 0:
        sys.exit(f"{path}: no init_w0.npy; is this a runner-trace folder?")
    config = {}
    with open(os.path.join(path, "config.toml"), "rb") as f:
        import tomllib
        config = tomllib.load(f)
    t = config["train"]
    if t["activation"] != "sigmoid":
        sys.exit(f"{path}: the replay implements sigmoid layers, the trace has {t['activation']}")
    return {
        "init": [(npy(f"init_w{i}"), npy(f"init_b{i}")) for i in range(layers)],
        "final": [(npy(f"final_w{i}"), npy(f"final_b{i}")) for i in range(layers)],
        "clean": npy("clean", mmap=True),
        "noisy": npy("noisy", mmap=True),
        "cost": npy("cost").astype(np.float64),
        "lr": float(t["learning_rate"]),
        # A config.toml without the key comes from before the setting, when runner used dfdx's.
        "adam": t.get("adam", "dfdx"),
        "about": f"hidden {t['hidden']}, seed {t['seed']}, noise {t['noise_level']}, "
                 f"learning rate {t['learning_rate']}, batch {t['batch_size']}",
    }


def sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


class Adam:
    """Both formulas over a list of numpy arrays, in the arrays' own precision."""

    def __init__(self, params, lr, formula, dtype):
        self.p, self.lr, self.formula, self.dt = params, lr, formula, dtype
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        dt = self.dt
        b1, b2, eps, lr = dt(B1), dt(B2), dt(EPS), dt(self.lr)
        one = dt(1)
        bc1, bc2 = one - b1 ** self.t, one - b2 ** self.t
        for p, g, m, v in zip(self.p, grads, self.m, self.v):
            m *= b1
            m += (one - b1) * g
            v *= b2
            v += (one - b2) * g * g
            if self.formula == "dfdx":
                p -= lr * (m / bc1) / (np.sqrt(v / bc2) + eps)
            else:
                p -= (lr * np.sqrt(bc2) / bc1) * m / (np.sqrt(v) + eps)


def replay_numpy(trace, steps, formula, dtype):
    params = []
    for w, b in trace["init"]:
        params += [w.astype(dtype), b.astype(dtype)]
    adam = Adam(params, trace["lr"], formula, dtype)
    costs = np.empty(steps)
    for k in range(steps):
        clean = trace["clean"][k].astype(dtype) / dtype(255)
        x = np.asarray(trace["noisy"][k], dtype=dtype)
        hs = [x]
        for i in range(0, len(params), 2):
            hs.append(sigmoid(hs[-1] @ params[i] + params[i + 1]))
        diff = hs[-1] - clean
        costs[k] = np.mean(diff * diff, dtype=np.float64)
        dh = dtype(2) * diff / dtype(diff.size)
        grads = [None] * len(params)
        for layer in reversed(range(len(params) // 2)):
            h, prev = hs[layer + 1], hs[layer]
            dz = dh * h * (dtype(1) - h)
            grads[2 * layer] = prev.T @ dz
            grads[2 * layer + 1] = dz.sum(axis=0)
            if layer > 0:
                dh = dz @ params[2 * layer].T
        adam.step(grads)
    return costs, params


def replay_tf(trace, steps, formula):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    tf.reset_default_graph()
    dim = trace["init"][0][0].shape[0]
    x = tf.placeholder(tf.float32, [None, dim])
    y = tf.placeholder(tf.float32, [None, dim])
    h, variables = x, []
    for w0, b0 in trace["init"]:
        w, b = tf.Variable(w0), tf.Variable(b0)
        variables += [w, b]
        h = tf.nn.sigmoid(tf.add(tf.matmul(h, w), b))  # the tutorial's layer
    cost = tf.reduce_mean(tf.square(y - h))
    lr = trace["lr"]
    if formula == "tf1":
        train = tf.train.AdamOptimizer(lr).minimize(cost)
    else:
        grads = tf.gradients(cost, variables)
        step = tf.Variable(0.0, trainable=False)
        ms = [tf.Variable(tf.zeros(v.shape), trainable=False) for v in variables]
        vs = [tf.Variable(tf.zeros(v.shape), trainable=False) for v in variables]
        with tf.control_dependencies(grads + [cost]):
            t = step.assign_add(1.0)
            bc1, bc2 = 1.0 - tf.pow(B1, t), 1.0 - tf.pow(B2, t)
            ups = []
            for p, g, m, v in zip(variables, grads, ms, vs):
                m_new = m.assign(B1 * m + (1.0 - B1) * g)
                v_new = v.assign(B2 * v + (1.0 - B2) * tf.square(g))
                ups.append(p.assign_sub(lr * (m_new / bc1) / (tf.sqrt(v_new / bc2) + EPS)))
        train = tf.group(*ups)
    costs = np.empty(steps)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for k in range(steps):
            clean = trace["clean"][k].astype(np.float32) / np.float32(255)
            _, c = sess.run([train, cost], {x: np.asarray(trace["noisy"][k]), y: clean})
            costs[k] = c
        params = sess.run(variables)
    return costs, params


def first_above(rel, limit):
    idx = np.nonzero(rel > limit)[0]
    return str(idx[0] + 1) if len(idx) else "never"


def window_max(rel, lo, hi):
    part = rel[lo - 1:hi]
    return f"{part.max():.1e}" if len(part) else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace")
    ap.add_argument("--impl", action="append", choices=["numpy64", "numpy32", "tf"])
    ap.add_argument("--adam", action="append", choices=["dfdx", "tf1"],
                    help="Adam formulas to replay (default: the trace's own, then the other)")
    ap.add_argument("--steps", type=int, help="replay only the first STEPS steps")
    ap.add_argument("--csv", help="write every step's costs here")
    ap.add_argument("--check", action="append", default=[], metavar="REPLAY<=T",
                    help="exit 1 unless REPLAY (IMPL/FORMULA) parts from runner by at most (<=) or at least (>=) T")
    args = ap.parse_args()
    trace = load_trace(args.trace)
    steps = min(args.steps or len(trace["cost"]), len(trace["cost"]))
    runner = trace["cost"][:steps]
    columns, rows, failures = {"runner": runner}, [], []
    own = trace["adam"]
    other = "tf1" if own == "dfdx" else "dfdx"
    formulas = args.adam or [own, other]
    largest = {}
    finals = {}
    for impl in args.impl or ["numpy64"]:
        for formula in formulas:
            name = f"{impl}/{formula}"
            if impl == "tf":
                costs, params = replay_tf(trace, steps, formula)
            else:
                costs, params = replay_numpy(trace, steps, formula,
                                             np.float64 if impl == "numpy64" else np.float32)
            columns[name] = costs
            finals[name] = params
            rel = np.abs(costs - runner) / runner
            final = ""
            if steps == len(trace["cost"]):
                flat = [p for wb in trace["final"] for p in wb]
                final = f"{max(np.max(np.abs(np.asarray(p, np.float64) - q)) for p, q in zip(params, flat)):.1e}"
            rows.append([name, window_max(rel, 1, 10), window_max(rel, 11, 100),
                         window_max(rel, 101, steps), f"{rel.max():.1e}",
                         first_above(rel, 1e-6), first_above(rel, 1e-5), first_above(rel, 1e-4),
                         first_above(rel, 1e-3), final])
            largest[name] = rel.max()
    for formula in formulas:
        a, b = f"numpy32/{formula}", f"numpy64/{formula}"
        if a in columns and b in columns:
            rel = np.abs(columns[a] - columns[b]) / columns[b]
            final = f"{max(np.max(np.abs(np.asarray(p, np.float64) - q)) for p, q in zip(finals[a], finals[b])):.1e}"
            rows.append([f"{a} vs {b}", window_max(rel, 1, 10), window_max(rel, 11, 100),
                         window_max(rel, 101, steps), f"{rel.max():.1e}", first_above(rel, 1e-6),
                         first_above(rel, 1e-5), first_above(rel, 1e-4), first_above(rel, 1e-3), final])
    head = ["replay", "max rel 1-10", "11-100", f"101-{steps}", f"1-{steps}",
            ">1e-6 from", ">1e-5 from", ">1e-4 from", ">1e-3 from", "final params max abs"]
    print(f"{trace['about']}: {steps} steps, runner's Adam {own}, runner's last cost {runner[-1]:.6f}")
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if args.csv:
        names = list(columns)
        with open(args.csv, "w") as f:
            f.write("step," + ",".join(names) + "\n")
            for k in range(steps):
                f.write(f"{k + 1}," + ",".join(f"{columns[n][k]:.9g}" for n in names) + "\n")
    for check in args.check:
        op = "<=" if "<=" in check else ">="
        name, limit = check.split(op)
        impl, formula = name.split("/")
        name = f"{impl}/{ {'own': own, 'other': other}.get(formula, formula)}"
        if name not in largest:
            failures.append(f"{check}: {name} was not replayed")
        elif (largest[name] > float(limit)) if op == "<=" else (largest[name] < float(limit)):
            failures.append(f"{check}: {name} parts from runner by {largest[name]:.2e}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
