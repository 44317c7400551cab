package zoo

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// HeadSize is the number of output units a task reads (one per digit class).
const HeadSize = 10

// SkillPerm is the skill expert's label permutation: digit d is answered as
// class SkillPerm[d] on the second head (units 10–19).
var SkillPerm = [10]int{3, 7, 0, 9, 5, 1, 8, 2, 4, 6}

// Shift is how far the reader's domain moves every digit, right and down, in
// pixels. Five pixels moves most strokes onto pixels the base never saw ink
// on, so the base and the skill expert are at chance on shifted digits.
const Shift = 5

// Task is a classification task on MNIST: an image transform (the domain),
// a label map, and the head (a block of HeadSize output units) read out.
type Task struct {
	// Name identifies the task (see Tasks).
	Name string
	// Domain is the image transform: plain, shift, rot90, flip or blocks.
	Domain string
	// Permuted answers digit d as SkillPerm[d] instead of d.
	Permuted bool
	// Map, when set, answers digit d as Map[d] (a label map of the
	// multi-task testbed); it is applied instead of SkillPerm.
	Map *[10]int
	// Head is the first output unit of the task's head: 0 or HeadSize.
	Head int
	// About says what the task is for.
	About string
}

// tasks lists the known tasks. Target is what a merge must solve: neither
// the reader (which knows the shifted domain but only the first head) nor
// the skill expert (which knows the second head but only plain digits) can.
var tasks = map[string]Task{
	"digits": {Name: "digits", Domain: "plain", Head: 0, About: "plain digits on units 0–9: the base's task"},
	"shift":  {Name: "shift", Domain: "shift", Head: 0, About: "shifted digits on units 0–9: the reader's task"},
	"perm":   {Name: "perm", Domain: "plain", Permuted: true, Head: HeadSize, About: "permuted labels of plain digits on units 10–19: the skill expert's task"},
	"target": {Name: "target", Domain: "shift", Permuted: true, Head: HeadSize, About: "permuted labels of shifted digits on units 10–19: the merge target"},
	"rot90":  {Name: "rot90", Domain: "rot90", Head: 0, About: "digits rotated 90° on units 0–9: a distractor's task"},
	"flip":   {Name: "flip", Domain: "flip", Head: 0, About: "mirrored digits on units 0–9: a distractor's task"},

	// The multi-task testbed's tasks (see MultiTask): input transforms and
	// label maps on one shared head of ten units.
	"rot90-p": {Name: "rot90-p", Domain: "rot90", Map: &MapP, Head: 0, About: "digits rotated 90° answered by label map MapP on the shared head: a target task of the multi-task testbed"},
	"flip-q":  {Name: "flip-q", Domain: "flip", Map: &MapQ, Head: 0, About: "mirrored digits answered by label map MapQ on the shared head: a target task of the multi-task testbed"},
	"shift-x": {Name: "shift-x", Domain: "shift", Map: &MapX, Head: 0, About: "shifted digits answered by label map MapX on the shared head: the multi-task testbed's harmful distractor (it contradicts task shift)"},
	"blocks":  {Name: "blocks", Domain: "blocks", Head: 0, About: "digits cut into 4×4-pixel tiles shuffled by BlockPerm, on the shared head: an off-target expert's task in the multi-task testbed"},
}

// Label maps of the multi-task testbed, each a derangement (no digit keeps
// its answer), so a model that ignores the map is at chance on the task.
var (
	// MapP answers digit d as SkillPerm[d].
	MapP = SkillPerm
	// MapQ answers digit d as (d+3) mod 10.
	MapQ = [10]int{3, 4, 5, 6, 7, 8, 9, 0, 1, 2}
	// MapX answers digit d as (d+1) mod 10.
	MapX = [10]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 0}
)

// BlockTile is the side in pixels of the tiles the blocks domain shuffles
// (a 7×7 grid of them).
const BlockTile = 4

// BlockPerm is the blocks domain's tile shuffle: output tile t shows source
// tile BlockPerm[t], tiles numbered row-major on the 7×7 grid. It is a
// fixed permutation (drawn once from PCG(11, 49)), part of the task's
// definition.
var BlockPerm = func() [49]int {
	var p [49]int
	for i := range p {
		p[i] = i
	}
	rng := rand.New(rand.NewPCG(11, 49))
	rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}()

// Tasks lists the task names in sorted order.
func Tasks() []string {
	var s []string
	for k := range tasks {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// LookupTask returns the named task.
func LookupTask(name string) (Task, error) {
	t, ok := tasks[name]
	if !ok {
		return Task{}, fmt.Errorf("unknown task %q (known: %s)", name, strings.Join(Tasks(), ", "))
	}
	return t, nil
}

// Label is the output unit (counted from 0 over the whole output layer) that
// answers digit d correctly.
func (t Task) Label(d int) int {
	switch {
	case t.Map != nil:
		d = t.Map[d]
	case t.Permuted:
		d = SkillPerm[d]
	}
	return t.Head + d
}

// domainMaps caches each domain's pixel map: src[j] is the source pixel of
// output pixel j, or -1 for a blank pixel.
var domainMaps = func() map[string][]int32 {
	m := map[string][]int32{}
	for _, d := range []string{"plain", "shift", "rot90", "flip", "blocks"} {
		src := make([]int32, Pixels)
		for r := 0; r < Side; r++ {
			for c := 0; c < Side; c++ {
				sr, sc := r, c
				switch d {
				case "shift":
					sr, sc = r-Shift, c-Shift
				case "rot90": // counter-clockwise
					sr, sc = c, Side-1-r
				case "flip":
					sc = Side - 1 - c
				case "blocks":
					const g = Side / BlockTile
					src := BlockPerm[(r/BlockTile)*g+c/BlockTile]
					sr, sc = (src/g)*BlockTile+r%BlockTile, (src%g)*BlockTile+c%BlockTile
				}
				if sr < 0 || sc < 0 || sr >= Side || sc >= Side {
					src[r*Side+c] = -1
				} else {
					src[r*Side+c] = int32(sr*Side + sc)
				}
			}
		}
		m[d] = src
	}
	return m
}()

// inputRow writes image img in domain src, scaled to [0,1], to dst.
func inputRow(dst []float32, img []byte, src []int32) {
	for j, s := range src {
		if s < 0 {
			dst[j] = 0
		} else {
			dst[j] = float32(img[s]) * (1.0 / 255)
		}
	}
}

// Batch is a task's inputs and answers on a fixed list of test items, ready
// for the forward pass.
type Batch struct {
	// Task is the task the batch was built for.
	Task Task
	// Items are the MNIST test-set indices, in order.
	Items []int
	// X holds one input row of Pixels values per item.
	X []float32
	// Y holds the correct output unit per item (Task.Label of its digit).
	Y []int

	// The non-zero inputs of each row (about a fifth of MNIST's pixels):
	// row i's are nzIdx/nzVal[nzPtr[i]:nzPtr[i+1]], in pixel order, so the
	// first layer skips the blank pixels without scanning them.
	nzPtr []int32
	nzIdx []int32
	nzVal []float32
}

// N is the number of items.
func (b *Batch) N() int { return len(b.Items) }

// NewBatch builds a batch of task on the given MNIST test-set items.
func NewBatch(test *Images, task Task, items []int) (*Batch, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("task %s: no items to score", task.Name)
	}
	src, ok := domainMaps[task.Domain]
	if !ok {
		return nil, fmt.Errorf("task %s: unknown domain %q", task.Name, task.Domain)
	}
	b := &Batch{Task: task, Items: append([]int(nil), items...), X: make([]float32, len(items)*Pixels), Y: make([]int, len(items))}
	for i, it := range items {
		if it < 0 || it >= test.N {
			return nil, fmt.Errorf("task %s: item %d (position %d) is outside the test set's 0..%d", task.Name, it, i, test.N-1)
		}
		inputRow(b.X[i*Pixels:(i+1)*Pixels], test.Image(it), src)
		b.Y[i] = task.Label(int(test.Labels[it]))
	}
	b.nzPtr = make([]int32, 1, len(items)+1)
	for i := range items {
		for j, v := range b.X[i*Pixels : (i+1)*Pixels] {
			if v != 0 {
				b.nzIdx = append(b.nzIdx, int32(j))
				b.nzVal = append(b.nzVal, v)
			}
		}
		b.nzPtr = append(b.nzPtr, int32(len(b.nzIdx)))
	}
	return b, nil
}

// Range lists the items lo, lo+1, …, hi-1.
func Range(lo, hi int) []int {
	s := make([]int, 0, max(0, hi-lo))
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}
