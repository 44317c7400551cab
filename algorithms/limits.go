package algorithms

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// PhaseCounter is implemented by methods whose first candidates are not
// proposed by the method's own rule: model-based methods start from a
// uniform design before their model is fitted (gp-bo, tpe), and population
// methods start from a uniform population (simple-es, de, pso, ga). At a
// small budget such a method may be little more than random search, so the
// harness records how many evaluated candidates came from each phase and
// tables flag a row where the start-up phase proposed most of them.
//
// PhaseEvals returns the counts of the last Minimize: "initial" for the
// uniform start-up candidates and "model" for the candidates the method's
// model or update rule proposed from what it had observed. Only candidates
// whose evaluation succeeded (Eval returned no error; on a Pool, whose loss
// came back) are counted.
type PhaseCounter interface {
	PhaseEvals() map[string]int
}

// Phase names of PhaseCounter.
const (
	PhaseInitial = "initial"
	PhaseModel   = "model"
)

// phases counts the evaluated candidates of each phase; methods embed it
// and call reset at the start of Minimize.
type phases struct{ initial, model int }

func (c *phases) reset() { *c = phases{} }

// count records one evaluated candidate of the initial phase (or of the
// model phase when initial is false).
func (c *phases) count(initial bool) {
	if initial {
		c.initial++
	} else {
		c.model++
	}
}

// PhaseEvals implements PhaseCounter.
func (c *phases) PhaseEvals() map[string]int {
	return map[string]int{PhaseInitial: c.initial, PhaseModel: c.model}
}

// fallbackMemory is the memory limit when the machine's memory cannot be
// read: 4 GiB.
const fallbackMemory = 4 << 30

// memoryLimit returns how many bytes one optimiser's state may take: half
// of the memory available to this process (the smaller of /proc/meminfo's
// MemTotal and a cgroup v2 memory.max), or 4 GiB when neither can be read.
// Half, because runs execute in parallel and the harness and objective
// need memory too. It also says where the limit comes from, for messages.
// A variable so that tests can set a limit.
var memoryLimit = sync.OnceValues(func() (float64, string) {
	total := readMemTotal()
	if cg := readCgroupMax(); cg > 0 && (total == 0 || cg < total) {
		total = cg
	}
	if total == 0 {
		return fallbackMemory, "the default limit when the machine's memory cannot be read"
	}
	return total / 2, "half of this machine's memory"
})

// readMemTotal returns MemTotal from /proc/meminfo in bytes, 0 if unknown.
func readMemTotal() float64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(fields[1], 64)
			if err != nil || !(kb > 0) {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// readCgroupMax returns the cgroup v2 memory limit in bytes, 0 if none.
func readCgroupMax() float64 {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64) // "max" fails: no limit
	if err != nil || !(v > 0) {
		return 0
	}
	return v
}

// checkMemory refuses a configuration whose state would need more than
// memoryLimit: allocating it would end the whole process with "fatal error:
// runtime: out of memory" (no recover is possible), or make the machine
// swap for hours. numbers is the estimated count of float64 values the
// state holds; config names the sizes that determine it and parts what
// they are, both for the message.
func checkMemory(method, config, parts string, numbers float64) error {
	need := 8 * numbers
	if limit, why := memoryLimit(); need > limit {
		return fmt.Errorf("%s: %s needs about %s for %s, more than the %s allowed (%s); use a smaller dimension or population",
			method, config, fmtBytes(need), parts, fmtBytes(limit), why)
	}
	return nil
}

// fmtBytes prints a size in binary units.
func fmtBytes(b float64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%.0f B", b)
	}
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		b /= unit
		if b < unit || s == "PiB" {
			return fmt.Sprintf("%.1f %s", b, s)
		}
	}
	return ""
}

// checkPopBudget refuses a population larger than the budget, when the
// budget is known: not one generation could be completed, so the method
// would never update its distribution.
func checkPopBudget(method, param string, pop int, p Problem) error {
	if p.Budget > 0 && pop > p.Budget {
		return fmt.Errorf("%s: %s %d is larger than the budget of %d evaluations: not one generation could be completed; use at most %d",
			method, param, pop, p.Budget, p.Budget)
	}
	return nil
}
