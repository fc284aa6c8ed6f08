"""The Python side of bench/lifetimes.sh, and its report.

    lifetimes_driver.py run LOG OUT.csv END HORIZON MONTHS RATE
        What `guanxi analytics predict --model bgnbd --spend-model gamma-gamma --period week
        --format csv` does, with the lifetimes package: read the transaction log
        (customer_id,date,amount), summarise it over the calibration period ending END in
        weeks (days collapsed, times in days / 7, as the published CDNOW fit and guanxi do:
        freq="D", freq_multiplier=7), fit BG/NBD, fit Gamma-Gamma on the repeat buyers with a
        positive mean spend, predict per customer (expected purchases over HORIZON weeks,
        P(alive), expected spend, CLV over MONTHS months at RATE a month, freq="W") and
        write OUT.csv. Prints one JSON object: stage times (s) and the fitted parameters.

    lifetimes_driver.py report RESULTS.jsonl
        The markdown tables of BENCHMARKS.md from the runs bench/lifetimes.sh recorded.
"""

import json
import statistics
import sys
import time


def run(log, out, end, horizon, months, rate):
    t0 = time.perf_counter()
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    times = {"import": time.perf_counter() - t0}

    t = time.perf_counter()
    tx = pd.read_csv(log, dtype={"customer_id": str})
    times["read"] = time.perf_counter() - t

    t = time.perf_counter()
    s = summary_data_from_transaction_data(
        tx,
        "customer_id",
        "date",
        monetary_value_col="amount",
        datetime_format="%Y-%m-%d",
        observation_period_end=end,
        freq="D",
        freq_multiplier=7,
    )
    times["summary"] = time.perf_counter() - t

    t = time.perf_counter()
    bg = BetaGeoFitter()
    bg.fit(s["frequency"], s["recency"], s["T"])
    times["fit_bgnbd"] = time.perf_counter() - t

    t = time.perf_counter()
    repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    gg = GammaGammaFitter()
    gg.fit(repeat["frequency"], repeat["monetary_value"])
    times["fit_gamma_gamma"] = time.perf_counter() - t

    t = time.perf_counter()
    f, r, T, m = s["frequency"], s["recency"], s["T"], s["monetary_value"]
    res = pd.DataFrame(index=s.index)
    res["frequency"] = f.astype(int)
    res["recency"] = r
    res["T"] = T
    res["expected_purchases"] = bg.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, T)
    res["p_alive"] = bg.conditional_probability_alive(f, r, T)
    res["expected_spend"] = gg.conditional_expected_average_profit(f, m)
    res["clv"] = gg.customer_lifetime_value(bg, f, r, T, m, time=months, discount_rate=rate, freq="W")
    times["predict"] = time.perf_counter() - t

    t = time.perf_counter()
    res.index.name = "id"
    res.to_csv(out)
    times["write"] = time.perf_counter() - t

    print(
        json.dumps(
            {
                "times": times,
                "customers": len(s),
                "transactions": len(tx),
                "repeat_buyers": len(repeat),
                "bgnbd": {k: float(v) for k, v in bg.params_.items()},
                "gamma_gamma": {("gamma" if k == "v" else k): float(v) for k, v in gg.params_.items()},
            }
        )
    )


def sig(x, digits=4):
    return f"{x:.{digits}g}"


def report(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    data_sets = []
    for r in runs:
        if r["data"] not in data_sets:
            data_sets.append(r["data"])

    def med(data, side, key):
        vals = [r[key] for r in runs if r["data"] == data and r["side"] == side and r.get(key) is not None]
        return statistics.median(vals) if vals else None

    def secs(v):
        if v is None:
            return "–"
        return f"{v * 1e3:.1f} ms" if v < 1 else f"{v:.2f} s"

    def ratio(a, b):
        if not (a and b):
            return "–"
        r = a / b
        return f"**{r:,.0f}×**" if r >= 10 else f"**{r:.2f}×**"

    print("| data | step | guanxi (2 cores) | guanxi (1 core) | lifetimes | ratio (2 cores) | ratio (1 core) |")
    print("|---|---|---|---|---|---|---|")
    for data in data_sets:
        info = next(r for r in runs if r["data"] == data and r["side"] == "lifetimes")
        label = f"{data} ({info['transactions']:,} tx, {info['customers']:,} customers)"
        for step, key in [
            ("fit BG/NBD", "fit_bgnbd"),
            ("fit Gamma-Gamma", "fit_gamma_gamma"),
            ("whole process", "wall"),
        ]:
            g2, g1, py = med(data, "guanxi", key), med(data, "guanxi-1core", key), med(data, "lifetimes", key)
            print(f"| {label} | {step} | {secs(g2)} | {secs(g1)} | {secs(py)} | {ratio(py, g2)} | {ratio(py, g1)} |")
            label = ""
        g2, py = med(data, "guanxi", "rss_mib"), med(data, "lifetimes", "rss_mib")
        print(f"| | peak memory | {g2:.0f} MiB | {med(data, 'guanxi-1core', 'rss_mib'):.0f} MiB | {py:.0f} MiB | | |")
    print()
    print("Stages, median seconds (lifetimes: import, read_csv, summary_data_from_transaction_data, "
          "the two fits, the predictions with CLV, to_csv; guanxi on 2 cores: read, summarise, the two fits, "
          "predict with CLV, write):")
    print()
    stages = {
        "lifetimes": ["import", "read", "summary", "fit_bgnbd", "fit_gamma_gamma", "predict", "write"],
        "guanxi": ["read", "summary", "fit_bgnbd", "fit_gamma_gamma", "predict", "write"],
    }
    for data in data_sets:
        for side, keys in stages.items():
            vals = ", ".join(
                f"{k} {statistics.median([r['stages'][k] for r in runs if r['data'] == data and r['side'] == side]):.3f}"
                for k in keys
            )
            print(f"- {data}, {side}: {vals}")
    print()
    print("| data | model | parameter | guanxi | lifetimes | relative difference | same to 4 significant digits |")
    print("|---|---|---|---|---|---|---|")
    for data in data_sets:
        cmp = next(r for r in runs if r["data"] == data and r["side"] == "compare")
        label = data
        for model in ["bgnbd", "gamma_gamma"]:
            for name, g in cmp["guanxi"][model].items():
                p = cmp["lifetimes"][model][name]
                rel = abs(g - p) / abs(p)
                same = "yes" if sig(g) == sig(p) or rel < 5e-5 else "NO"
                print(f"| {label} | {model.replace('_', '-')} | {name} | {g:.6g} | {p:.6g} | {rel:.1e} | {same} |")
                label = ""
    print()
    print("Per-customer predictions, largest relative difference (guanxi vs lifetimes, all customers):")
    print()
    print("| data | customers | expected_purchases | p_alive | expected_spend | clv |")
    print("|---|---|---|---|---|---|")
    for data in data_sets:
        cmp = next(r for r in runs if r["data"] == data and r["side"] == "compare")
        d = cmp["max_rel_diff"]
        print(f"| {data} | {cmp['customers']:,} | {d['expected_purchases']:.1e} | {d['p_alive']:.1e} | {d['expected_spend']:.1e} | {d['clv']:.1e} |")


def compare(data, gx_params, gx_out, py_json, py_out):
    """One 'compare' record: parameters both sides, and the largest per-customer differences."""
    import pandas as pd

    params = pd.read_csv(gx_params)
    gx = {"bgnbd": {}, "gamma_gamma": {}}
    for _, row in params.iterrows():
        if row["parameter"] != "log_likelihood":
            gx[row["model"].replace("-", "_")][row["parameter"]] = float(row["value"])
    py = json.load(open(py_json))
    a = pd.read_csv(gx_out, dtype={"id": str}).set_index("id")
    b = pd.read_csv(py_out, dtype={"id": str}).set_index("id")
    if len(a) != len(b) or not a.index.sort_values().equals(b.index.sort_values()):
        raise SystemExit(f"different customers: guanxi {len(a)}, lifetimes {len(b)}")
    b = b.loc[a.index]
    diff = {}
    for col in ["expected_purchases", "p_alive", "expected_spend", "clv"]:
        rel = (a[col] - b[col]).abs() / b[col].abs().clip(lower=1e-12)
        diff[col] = float(rel.max())
    print(
        json.dumps(
            {
                "data": data,
                "side": "compare",
                "customers": len(a),
                "guanxi": gx,
                "lifetimes": {"bgnbd": py["bgnbd"], "gamma_gamma": py["gamma_gamma"]},
                "max_rel_diff": diff,
            }
        )
    )


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "run":
        log, out, end, horizon, months, rate = sys.argv[2:8]
        run(log, out, end, float(horizon), int(months), float(rate))
    elif cmd == "compare":
        compare(*sys.argv[2:7])
    elif cmd == "report":
        report(sys.argv[2])
    else:
        raise SystemExit(__doc__)
