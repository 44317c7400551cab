package main

import (
	"fmt"
	"strings"
)

// The simulator speaks the language of the Japanese original's users when
// their locale asks for it. Only the lines around the search change: the
// Gen lines are the same in every language, so logs and scripts that read
// them do not depend on the locale.

// simLang picks the simulator's language: the --lang flag if given ("en"
// or "ja"), else the locale as POSIX orders its variables (LC_ALL, then
// LC_MESSAGES, then LANG: the first that is set decides), Japanese when it
// starts with "ja".
func simLang(flagValue string, getenv func(string) string) (string, error) {
	switch flagValue {
	case "en", "ja":
		return flagValue, nil
	case "":
	default:
		return "", fmt.Errorf("--lang %q: want en or ja (default: from LC_ALL, LC_MESSAGES or LANG)", flagValue)
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if l := getenv(v); l != "" {
			if strings.HasPrefix(l, "ja") {
				return "ja", nil
			}
			return "en", nil
		}
	}
	return "en", nil
}

// simText holds the simulator's lines in one language. Each function
// receives the facts it prints; the English and Japanese versions print
// the same facts.
type simText struct {
	header func(dim int, optimum, alg string, gen, budget int, target float64, seed uint64) string
	mock   func(noise float64, items int) string
	// hit and missed say whether any candidate the search scored reached
	// the target; recommended what is handed over and whether it meets it.
	hit    func(eval, gen int, best, target float64) string
	missed func(used int, target, best float64) string
	none   string
	// recommended gets what was handed over and how it was chosen
	// (bench.Run.Recommendation, with the final check if there was one),
	// whether a candidate reached the target, and whether the handed-over
	// point meets it.
	recommended func(x, alg string, how recommendation, observed, true_ float64, hit, meets bool, target float64) string
}

// recommendation is how the handed-over point was chosen.
type recommendation struct {
	desc string // bench.Run.Recommendation (English)
	// final is the chosen side of a final check ("method" or "best
	// observed") and k its fresh evaluations per point; "" without one.
	final      string
	k          int
	recommends string // what the method itself hands over (Entry.Recommends)
}

var simTexts = map[string]simText{
	"en": {
		header: func(dim int, optimum, alg string, gen, budget int, target float64, seed uint64) string {
			return fmt.Sprintf("Searching %d merge ratios for the secret optimum %s with %s (%d per generation, budget %d, target true score %g, seed %d)\n",
				dim, optimum, alg, gen, budget, target, seed)
		},
		mock: func(noise float64, items int) string {
			d := fmt.Sprintf("Gaussian noise σ %g", noise)
			if items > 0 {
				d = fmt.Sprintf("accuracy on %d items, then %s", items, d)
			}
			return fmt.Sprintf("Mock evaluation: score = 100·exp(−‖w−w*‖²/(2·0.25²·n/4)) observed through %s\n", d)
		},
		hit: func(eval, gen int, best, target float64) string {
			return fmt.Sprintf("A candidate reached the target: evaluation %d (generation %d) had true score %.2f ≥ %g.\n", eval, gen, best, target)
		},
		missed: func(used int, target, best float64) string {
			return fmt.Sprintf("Budget of %d evaluations spent: no candidate reached true score %g (best candidate: true score %.2f).\n", used, target, best)
		},
		none: "Recommended point: none (no evaluation succeeded).\n",
		recommended: func(x, alg string, how recommendation, observed, true_ float64, hit, meets bool, target float64) string {
			verdict := "below the target"
			if meets {
				verdict = "meets the target"
			}
			return fmt.Sprintf("Recommended point %s (%s's %s; best observed score %.2f): true score %.2f — %s.\n", x, alg, how.desc, observed, true_, verdict)
		},
	},
	"ja": {
		header: func(dim int, optimum, alg string, gen, budget int, target float64, seed uint64) string {
			return fmt.Sprintf("🧬 進化的マージシミュレーション開始（%s、1世代 %d 個体、評価の予算 %d 回、シード %d）\n🎯 目標: 秘密の最適配合 %s を探索する（%d 個の配合比、真のスコア %g 以上で発見とみなす）\n",
				alg, gen, budget, seed, optimum, dim, target)
		},
		mock: func(noise float64, items int) string {
			d := fmt.Sprintf("ガウスノイズ σ %g", noise)
			if items > 0 {
				d = fmt.Sprintf("%d 問のベンチマークの正答率にしてから%s", items, d)
			}
			return fmt.Sprintf("模擬評価: スコア = 100·exp(−‖w−w*‖²/(2·0.25²·n/4)) に%s を加えて観測\n\n", d)
		},
		hit: func(eval, gen int, best, target float64) string {
			return fmt.Sprintf("\n候補が目標に到達: %d 回目の評価（第 %d 世代）の真のスコアは %.2f ≥ %g。\n", eval, gen, best, target)
		},
		missed: func(used int, target, best float64) string {
			return fmt.Sprintf("\n❌ 最適解は見つかりませんでした: 予算の %d 回の評価を使い切り、真のスコア %g に届いた候補はありません（最良の候補の真のスコアは %.2f）。\n", used, target, best)
		},
		none: "推奨する配合: なし（評価が一度も成功しませんでした）。\n",
		recommended: func(x, alg string, how recommendation, observed, true_ float64, hit, meets bool, target float64) string {
			line := fmt.Sprintf("推奨する配合 %s（%s の%s、最良の観測スコア %.2f）: 真のスコア %.2f", x, alg, jaRecommendation(how), observed, true_)
			switch {
			case meets:
				return "🎉 最適解を発見しました！\n" + line + " — 目標を満たしています。\n"
			case hit:
				return fmt.Sprintf("⚠️ 候補は目標に届きましたが、引き渡す配合は目標 %g に届いていません。\n%s — 目標未満です。\n", target, line)
			}
			return line + " — 目標未満です。\n"
		},
	},
}

// jaRecommendation says in Japanese how the handed-over point was chosen:
// the final check's outcome when there was one, else what the method hands
// over where the registry's phrase is a common one (else the English).
func jaRecommendation(r recommendation) string {
	switch r.final {
	case "method":
		return fmt.Sprintf("%s（新たに %d 回評価し、同じ回数評価し直した最良観測点より良かった）", jaPhrase(r.recommends), r.k)
	case "best observed":
		return fmt.Sprintf("最良観測点（%d 回評価し直し、同じ回数評価した%sより良かった）", r.k, jaPhrase(r.recommends))
	}
	return jaPhrase(r.desc)
}

// jaPhrase translates the registry's common phrases.
func jaPhrase(s string) string {
	switch s {
	case "best observed":
		return "最良観測点"
	case "distribution mean":
		return "分布の平均"
	case "best posterior mean among evaluated points":
		return "評価済みの点のうち事後平均が最良の点"
	}
	return s
}
