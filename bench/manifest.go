package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ManifestName is the file in a report folder that lists, one slash-separated
// path a line, the files the report wrote there. A report writes only into a
// new or empty folder, or one holding nothing but what its manifest lists
// (and the manifest): so a report given the wrong folder, such as the
// committed results/ from the repository root, is refused instead of
// writing over pages someone else made.
const ManifestName = "report-files.txt"

const manifestHeader = "# Files written here by evomerge report (or bench --report). It writes into\n# this folder again only while the folder holds nothing else, or with --force.\n"

// maxManifest bounds the manifest read: a report of every scenario lists a
// few dozen files.
const maxManifest = 1 << 20

// CheckReportDir says whether a report may write into dir: dir must be
// absent, empty, or hold only the files its manifest lists; force allows
// any folder (files the report does not write are left as they are).
func CheckReportDir(dir string, force bool) error {
	_, err := checkReportDir(dir, force)
	return err
}

// checkReportDir is CheckReportDir; it also returns the files the folder's
// manifest lists, which the next manifest keeps.
func checkReportDir(dir string, force bool) ([]string, error) {
	if dir == "" {
		return nil, fmt.Errorf("report: no output folder given")
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("report folder %s: %v", dir, err)
	case !st.IsDir():
		return nil, fmt.Errorf("report folder %s is not a folder", dir)
	}
	refuse := func(why string) error {
		return fmt.Errorf("report folder %s %s: write the report to a new or empty folder, or pass --force to write README.md, index.html, plots/ and %s there anyway (other files are left as they are)", dir, why, ManifestName)
	}
	var listed []string
	b, err := readManifestFile(filepath.Join(dir, ManifestName))
	if err == nil {
		listed, err = parseManifest(b)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if !force {
			return nil, refuse(fmt.Sprintf("has a %s this command cannot read (%v)", ManifestName, err))
		}
		listed = nil
	}
	if force {
		return listed, nil
	}
	ours := map[string]bool{ManifestName: true}
	for _, l := range listed {
		ours[l] = true
	}
	root := dir
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		root = r
	}
	var foreign string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil // a folder is ours if everything in it is
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !ours[rel] && !ours[tempOf(rel)] {
			foreign = rel
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report folder %s: %v", dir, err)
	}
	if foreign != "" {
		why := "holds " + foreign + ", which evomerge report did not write"
		if len(listed) > 0 {
			why += " (" + ManifestName + " does not list it)"
		}
		return nil, refuse(why)
	}
	return listed, nil
}

// tempOf returns the file a temporary file of WriteFileAtomic (or the
// plots' writer) was to become, "" for other names: a crash leaves such a
// file beside its target, and it is the report's own.
func tempOf(rel string) string {
	dir, base := path.Split(rel)
	i := strings.LastIndex(base, ".tmp-")
	if !strings.HasPrefix(base, ".") || i < 2 {
		return ""
	}
	return dir + base[1:i]
}

func readManifestFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, maxManifest+1)); err != nil {
		return nil, err
	}
	if b.Len() > maxManifest {
		return nil, fmt.Errorf("larger than %d bytes", maxManifest)
	}
	return b.Bytes(), nil
}

// parseManifest reads a manifest: comment lines (#) and blank lines are
// skipped; every other line is a clean relative slash path inside the
// folder.
func parseManifest(b []byte) ([]string, error) {
	var files []string
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(line)) || path.Clean(line) != line || strings.ContainsAny(line, "\\\r\x00") {
			return nil, fmt.Errorf("line %d: %q is not a file inside the folder", i+1, line)
		}
		files = append(files, line)
	}
	return files, nil
}

// formatManifest writes a manifest of files, sorted and without repeats.
func formatManifest(files []string) []byte {
	sorted := append([]string(nil), files...)
	sort.Strings(sorted)
	var b bytes.Buffer
	b.WriteString(manifestHeader)
	for i, f := range sorted {
		if i == 0 || f != sorted[i-1] {
			b.WriteString(f + "\n")
		}
	}
	return b.Bytes()
}

// ClaimReportFiles lists files (slash paths inside dir) in dir's manifest
// before they exist, so that a report built into dir later takes them for
// its folder's own: evomerge slurm bench keeps its shards' journals and
// logs in the folder of the page they make. dir must pass CheckReportDir
// (with force, any folder); it is created if needed.
func ClaimReportFiles(dir string, force bool, files []string) error {
	listed, err := checkReportDir(dir, force)
	if err != nil {
		return err
	}
	if _, err := parseManifest([]byte(strings.Join(files, "\n"))); err != nil {
		return fmt.Errorf("report folder %s: %v", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report folder %s: %v", dir, err)
	}
	return WriteFileAtomic(filepath.Join(dir, ManifestName), formatManifest(append(listed, files...)))
}
