#!/usr/bin/python3
"""Optuna's CmaEsSampler on evomerge's bounded mock merge objective.

Writes one row per run (raw, nothing aggregated) to stdout as CSV:

    sampler,n,sigma0,seed,best_true,hit_90,hit_95,hit_99

best_true is the best true score among the first BUDGET evaluated trials
(the objective is noise-free, so it is also the best observed value);
hit_T is the 1-based index of the first trial whose score reached T
("inf" if none did).

The objective is evomerge's mock (objectives/mock.go) with width 0.25 and no
noise: 100 * exp(-|w - w*|^2 / (2 * 0.25^2 * n/4)) on [0,1]^n, w clipped into
the box. w* per (n, seed) is read from optima.csv, which
`go run testdata/optuna/gen_optima.go` writes from the objective's own draw.

The sampler is Optuna 3.1's CmaEsSampler with its defaults (the cmaes
library's CMA, box handled by resampling up to 10n times then clipping;
x0 the box centre; n_startup_trials=1, so the first trial is drawn by
RandomSampler) except sigma0, which is set explicitly, and seed.

Usage: /usr/bin/python3 run.py [--n 4,8,16] [--sigma0 0.3,0.16666666666666666]
       [--seeds 25] [--budget 300] [--jobs 2] > raw.csv
"""
import argparse
import csv
import math
import multiprocessing
import os
import sys

import optuna

TARGETS = (90, 95, 99)
WIDTH = 0.25


def read_optima(path):
    optima = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            key = (int(row["n"]), int(row["seed"]))
            optima.setdefault(key, {})[int(row["coord"])] = float(row["wstar"])
    return {k: [v[i] for i in range(len(v))] for k, v in optima.items()}


def true_score(w, wstar):
    n = len(wstar)
    d = 0.0
    for v, s in zip(w, wstar):
        v = min(max(v, 0.0), 1.0)
        d += (v - s) * (v - s)
    return 100.0 * math.exp(-d / (2 * WIDTH * WIDTH * n / 4))


def one_run(args):
    n, sigma0, seed, budget, wstar = args
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = optuna.samplers.CmaEsSampler(sigma0=sigma0, seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    scores = []

    def objective(trial):
        w = [trial.suggest_float("w%02d" % i, 0.0, 1.0) for i in range(n)]
        s = true_score(w, wstar)
        scores.append(s)
        return s

    study.optimize(objective, n_trials=budget)
    hits = []
    for t in TARGETS:
        hit = next((i + 1 for i, s in enumerate(scores) if s >= t), None)
        hits.append("inf" if hit is None else str(hit))
    return ["optuna-cmaes", str(n), repr(sigma0), str(seed), repr(max(scores))] + hits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="4,8,16")
    ap.add_argument("--sigma0", default="0.3,0.16666666666666666")
    ap.add_argument("--seeds", type=int, default=25)
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    optima = read_optima(os.path.join(os.path.dirname(os.path.abspath(__file__)), "optima.csv"))
    tasks = []
    for n in (int(v) for v in a.n.split(",")):
        for sigma0 in (float(v) for v in a.sigma0.split(",")):
            for seed in range(a.seeds):
                tasks.append((n, sigma0, seed, a.budget, optima[(n, seed)]))
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["sampler", "n", "sigma0", "seed", "best_true"] + ["hit_%d" % t for t in TARGETS])
    with multiprocessing.Pool(a.jobs) as pool:
        for row in pool.imap(one_run, tasks):  # task order: output is independent of --jobs
            w.writerow(row)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
