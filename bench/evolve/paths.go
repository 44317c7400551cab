package evolve

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckPaths refuses, before the first evaluation, every output path that
// would overwrite an input or could only fail once the budget is spent:
// the output, the journal and the progress page must be files (not
// folders) in existing folders, must differ from each other, from the
// config and from every file the evaluator command names, and must lie
// outside the model folders; the workdir, where merged models are
// written, must lie outside the model folders too.
func (c *Config) CheckPaths() error {
	in := c.inputs()
	outs := []struct{ key, path string }{{"output", c.Output}, {"journal", c.Journal}, {"progress page", c.ProgressPath()}}
	if c.Multi() {
		// The output is the front's folder, and a multi-objective run
		// writes no progress page (RunMulti): the journal is its file.
		if err := checkOutputFolder("output", c.Output, in); err != nil {
			return err
		}
		if inside(c.Journal, c.Output) {
			return fmt.Errorf("journal %s is inside the front folder %s, which each run replaces whole: put it elsewhere", c.Journal, c.Output)
		}
		outs = outs[1:2]
	}
	for _, o := range outs {
		if err := checkOutputFile(o.key, o.path, in); err != nil {
			return err
		}
	}
	for i, a := range outs {
		for _, b := range outs[i+1:] {
			if same(a.path, b.path) {
				return fmt.Errorf("%s %s is the %s: give them different paths", a.key, a.path, b.key)
			}
		}
	}
	if e := c.Objective.External; e != nil && e.WorkDir != "" {
		for _, m := range in.folders {
			if inside(e.WorkDir, m.path) {
				return fmt.Errorf("workdir %s is inside %s %s: merged models would be written among an input's files", e.WorkDir, m.what, m.path)
			}
		}
	}
	return nil
}

// CheckMergeDir refuses a --merge-best folder before the run rather than
// after it: it must not be (or lie inside) a model folder or name an
// input file, its parent must exist, and it must be empty or absent.
func (c *Config) CheckMergeDir(dir string) error {
	in := c.inputs()
	for _, f := range append(in.files, input{"output", c.Output}, input{"journal", c.Journal}, input{"progress page", c.ProgressPath()}) {
		if same(dir, f.path) {
			return fmt.Errorf("--merge-best %s is the %s", dir, f.what)
		}
	}
	for _, m := range in.folders {
		if inside(dir, m.path) {
			return fmt.Errorf("--merge-best %s is %s %s or inside it: the merge would write among an input's files", dir, m.what, m.path)
		}
	}
	if err := parentExists("--merge-best", dir); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err == nil && !st.IsDir() {
		return fmt.Errorf("--merge-best %s is a file, not a folder", dir)
	}
	if err == nil {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
			return fmt.Errorf("--merge-best folder %s exists and is not empty", dir)
		}
	}
	return nil
}

type input struct{ what, path string }

type inputs struct {
	files   []input // the config and the evaluator's files
	folders []input // model folders
}

// inputs lists what a run reads: the config, the model folders, the
// evaluator program and every existing file its arguments name.
func (c *Config) inputs() inputs {
	var in inputs
	if c.path != "" {
		in.files = append(in.files, input{"config", c.path})
	}
	e := c.Objective.External
	if e == nil {
		return in
	}
	if e.BaseModel != "" {
		in.folders = append(in.folders, input{"base model folder", e.BaseModel})
	}
	for _, m := range e.Models {
		in.folders = append(in.folders, input{"model folder", m})
	}
	for _, cmd := range []struct {
		what string
		args []string
	}{{"evaluator file", e.Args}, {"merge_command file", e.Merge}} {
		for i, a := range cmd.args {
			if strings.Contains(a, "{") {
				continue // a placeholder: expanded per evaluation, under workdir
			}
			p := a
			if i == 0 {
				if lp, err := exec.LookPath(a); err == nil {
					p = lp
				}
			}
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				in.files = append(in.files, input{cmd.what, p})
			}
		}
	}
	return in
}

func checkOutputFile(key, p string, in inputs) error {
	if st, err := os.Stat(p); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s %s is a folder: name a file", key, p)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s %s is not a regular file", key, p)
		}
	}
	if err := parentExists(key, p); err != nil {
		return err
	}
	for _, f := range in.files {
		if same(p, f.path) {
			return fmt.Errorf("%s %s is the %s: writing it would overwrite an input", key, p, f.what)
		}
	}
	for _, m := range in.folders {
		if inside(p, m.path) {
			return fmt.Errorf("%s %s is inside %s %s: writing it would change an input", key, p, m.what, m.path)
		}
	}
	return nil
}

// checkOutputFolder refuses a front folder that is a file, lies in a
// missing folder, is an input or lies inside a model folder (or holds
// one).
func checkOutputFolder(key, p string, in inputs) error {
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return fmt.Errorf("%s %s is a file: a multi-objective run writes its front into a folder (NN.yml per point, front.md)", key, p)
	}
	if err := parentExists(key, p); err != nil {
		return err
	}
	for _, f := range in.files {
		if same(p, f.path) || inside(f.path, p) {
			return fmt.Errorf("%s %s is or holds the %s: writing the front would replace an input", key, p, f.what)
		}
	}
	for _, m := range in.folders {
		if inside(p, m.path) || inside(m.path, p) {
			return fmt.Errorf("%s %s is inside %s %s or holds it: writing the front would change an input", key, p, m.what, m.path)
		}
	}
	return nil
}

func parentExists(key, p string) error {
	dir := filepath.Dir(p)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return fmt.Errorf("%s %s: folder %s does not exist", key, p, dir)
	}
	return nil
}

// resolve makes p absolute with symbolic links resolved, as far as it
// exists, so that two spellings of one file compare equal.
func resolve(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(r, filepath.Base(abs))
	}
	return abs
}

// same reports whether a and b name one file: the same resolved path, or
// (hard links) the same inode.
func same(a, b string) bool {
	if resolve(a) == resolve(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// inside reports whether p is dir or lies below it.
func inside(p, dir string) bool {
	if same(p, dir) {
		return true
	}
	rel, err := filepath.Rel(resolve(dir), resolve(p))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
