package zoo

import (
	"fmt"
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
	// Domain is the image transform: plain, shift, rot90 or flip.
	Domain string
	// Permuted answers digit d as SkillPerm[d] instead of d.
	Permuted bool
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
}

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
	if t.Permuted {
		d = SkillPerm[d]
	}
	return t.Head + d
}

// domainMaps caches each domain's pixel map: src[j] is the source pixel of
// output pixel j, or -1 for a blank pixel.
var domainMaps = func() map[string][]int32 {
	m := map[string][]int32{}
	for _, d := range []string{"plain", "shift", "rot90", "flip"} {
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
