package stats

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The pycma reference tables (testdata/pycma, see its README) were produced
// with numpy's percentile and COCO's aRT; recomputing them from the raw runs
// checks Quantile and ART against an independent implementation.

func readCSV(t *testing.T, name string) []map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "pycma", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, k := range recs[0] {
			m[k] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

func readJSON(t *testing.T, name, key string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pycma", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var cells []map[string]any
	if err := json.Unmarshal(doc[key], &cells); err != nil {
		t.Fatal(err)
	}
	return cells
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64) // accepts "inf"
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ref converts a JSON summary value; null means "fell on a failure".
func ref(v any) float64 {
	if v == nil {
		return math.Inf(1)
	}
	return v.(float64)
}

func same(got, want float64) bool {
	if math.IsInf(want, 0) || math.IsInf(got, 0) {
		return got == want
	}
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

type pycmaCell struct {
	name string
	hits []float64
	runs []Run
	want map[string]any
}

func pycmaCells(t *testing.T) []pycmaCell {
	var cells []pycmaCell
	classic := readCSV(t, "raw_classic.csv")
	for _, c := range readJSON(t, "summary_classic.json", "classic") {
		pc := pycmaCell{name: c["function"].(string) + "/" + strconv.Itoa(int(c["n"].(float64))) + "/" + c["variant"].(string), want: c}
		for _, r := range classic {
			if r["function"] == c["function"] && r["variant"] == c["variant"] && num(t, r["n"]) == c["n"] {
				pc.hits = append(pc.hits, num(t, r["hit_evals"]))
				pc.runs = append(pc.runs, Run{Hit: num(t, r["hit_evals"]), Used: num(t, r["evals_used"])})
			}
		}
		cells = append(cells, pc)
	}
	merge := readCSV(t, "raw_merge.csv")
	for _, c := range readJSON(t, "summary_merge.json", "merge") {
		col := "hit_" + c["criterion"].(string)
		pc := pycmaCell{name: c["variant"].(string) + "/" + strconv.Itoa(int(c["n"].(float64))) + "/" + strconv.FormatFloat(c["noise_sd"].(float64), 'g', -1, 64) + "/" + col, want: c}
		for _, r := range merge {
			if r["variant"] == c["variant"] && num(t, r["n"]) == c["n"] && num(t, r["noise_sd"]) == c["noise_sd"] {
				pc.hits = append(pc.hits, num(t, r[col]))
				pc.runs = append(pc.runs, Run{Hit: num(t, r[col]), Used: num(t, r["evals_used"])})
			}
		}
		cells = append(cells, pc)
	}
	return cells
}

func TestQuantileAgainstPycmaTables(t *testing.T) {
	cells := pycmaCells(t)
	if len(cells) != 18+24 {
		t.Fatalf("got %d cells, want 42", len(cells))
	}
	checked, onInf := 0, 0
	for _, c := range cells {
		if len(c.hits) != 25 {
			t.Fatalf("%s: %d runs, want 25", c.name, len(c.hits))
		}
		for key, p := range map[string]float64{"p10": 0.1, "median": 0.5, "p90": 0.9} {
			want := ref(c.want[key])
			if got := Quantile(c.hits, p); !same(got, want) {
				t.Errorf("%s %s: Quantile = %v, pycma table %v", c.name, key, got, want)
			}
			checked++
			if math.IsInf(want, 1) {
				onInf++
			}
		}
	}
	if onInf == 0 || onInf == checked {
		t.Fatalf("table should exercise both finite and censored percentiles (%d of %d censored)", onInf, checked)
	}
}

func TestARTAgainstPycmaTables(t *testing.T) {
	for _, c := range pycmaCells(t) {
		got, err := ART(c.runs)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if want := ref(c.want["aRT"]); !same(got, want) {
			t.Errorf("%s: ART = %v, pycma table %v", c.name, got, want)
		}
	}
}
