package zoo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// ConfigName is the model folder's configuration file, as in Hugging Face
// model folders.
const ConfigName = "config.json"

// ModelType is the config.json model_type of zoo models.
const ModelType = "evomerge_mlp"

// maxLayerSize bounds a layer's width in a config.json, so a hostile file
// cannot make the loader allocate gigabytes.
const maxLayerSize = 1 << 14

// maxConfigBytes bounds the size of a config.json read from disk.
const maxConfigBytes = 1 << 20

// ModelConfig is a zoo model folder's config.json. The field names follow
// Hugging Face's, so that merge tools that count layers with
// num_hidden_layers find the three linear layers layers.0 … layers.2.
type ModelConfig struct {
	Architectures []string `json:"architectures"`
	ModelType     string   `json:"model_type"`
	// NumHiddenLayers is the number of linear layers (tensors
	// layers.<i>.weight and layers.<i>.bias), one less than len(LayerSizes).
	NumHiddenLayers int `json:"num_hidden_layers"`
	// LayerSizes lists the widths from the input (784) to the output.
	LayerSizes []int  `json:"layer_sizes"`
	HiddenAct  string `json:"hidden_act"`
	TorchDType string `json:"torch_dtype"`
	// Zoo says how the zoo trained this model; merged models may drop it.
	Zoo *ModelInfo `json:"evomerge_zoo,omitempty"`
}

// ModelInfo records a zoo model's role and training.
type ModelInfo struct {
	Role  string   `json:"role"`
	Tasks []string `json:"tasks,omitempty"`
	Seed  uint64   `json:"seed"`
	Hash  string   `json:"zoo_hash"`
}

// ParseModelConfig decodes and checks a config.json. Unknown fields are
// allowed (merge tools add their own); the architecture fields must
// describe a ReLU MLP on MNIST images whose layer count matches.
func ParseModelConfig(data []byte) (*ModelConfig, error) {
	var c ModelConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("not a valid JSON config: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON config")
	}
	if c.ModelType != ModelType {
		return nil, fmt.Errorf("model_type is %q, want %q", c.ModelType, ModelType)
	}
	if c.HiddenAct != "" && c.HiddenAct != "relu" {
		return nil, fmt.Errorf("hidden_act is %q, only relu is supported", c.HiddenAct)
	}
	if len(c.LayerSizes) < 2 {
		return nil, fmt.Errorf("layer_sizes %v needs at least an input and an output size", c.LayerSizes)
	}
	if c.NumHiddenLayers != len(c.LayerSizes)-1 {
		return nil, fmt.Errorf("num_hidden_layers is %d but layer_sizes %v describes %d linear layers", c.NumHiddenLayers, c.LayerSizes, len(c.LayerSizes)-1)
	}
	if c.LayerSizes[0] != Pixels {
		return nil, fmt.Errorf("layer_sizes starts at %d, MNIST images have %d pixels", c.LayerSizes[0], Pixels)
	}
	for i, s := range c.LayerSizes {
		if s < 1 || s > maxLayerSize {
			return nil, fmt.Errorf("layer_sizes[%d] = %d is outside 1..%d", i, s, maxLayerSize)
		}
	}
	if c.TorchDType != "" {
		if _, err := st.ParseDType(c.TorchDType); err != nil {
			return nil, fmt.Errorf("torch_dtype: %v", err)
		}
	}
	return &c, nil
}

// WeightName and BiasName are the tensor names of linear layer l.
func WeightName(l int) string { return fmt.Sprintf("layers.%d.weight", l) }

// BiasName is the tensor name of linear layer l's bias.
func BiasName(l int) string { return fmt.Sprintf("layers.%d.bias", l) }

// ReadModelConfig reads and checks dir/config.json.
func ReadModelConfig(dir string) (*ModelConfig, error) {
	p := filepath.Join(dir, ConfigName)
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxConfigBytes)
	}
	c, err := ParseModelConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// LoadNet reads the model folder dir (config.json and safetensors weights,
// single-file or sharded) into a Net, checking every tensor's shape against
// the config.
func LoadNet(dir string) (*Net, *ModelConfig, error) {
	cfg, err := ReadModelConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	ck, err := st.OpenCheckpoint(dir)
	if err != nil {
		return nil, nil, err
	}
	defer ck.Close()
	net := NewNet(cfg.LayerSizes)
	for l := 0; l < net.Layers(); l++ {
		in, out := cfg.LayerSizes[l], cfg.LayerSizes[l+1]
		w, b := make([]float32, in*out), make([]float32, out)
		for _, t := range []struct {
			name  string
			shape []int
			dst   []float32
		}{{WeightName(l), []int{out, in}, w}, {BiasName(l), []int{out}, b}} {
			info, ok := ck.Tensor(t.name)
			if !ok {
				return nil, nil, fmt.Errorf("model %s: no tensor %q (config.json describes %d layers)", dir, t.name, net.Layers())
			}
			if fmt.Sprint(info.Shape) != fmt.Sprint(t.shape) {
				return nil, nil, fmt.Errorf("model %s: tensor %q has shape %v, config.json implies %v", dir, t.name, info.Shape, t.shape)
			}
			if err := ck.ReadFloat32(t.name, t.dst); err != nil {
				return nil, nil, err
			}
		}
		if err := net.SetLayer(l, w, b); err != nil {
			return nil, nil, fmt.Errorf("model %s: %w", dir, err)
		}
	}
	return net, cfg, nil
}

// TestSet returns the MNIST test set from the module cache (see MNISTDir).
func TestSet() (*Images, error) {
	dir, err := MNISTDir()
	if err != nil {
		return nil, err
	}
	return loadSet(dir, "t10k", 10000)
}

// EvaluateFolder loads the model folder dir and returns its accuracy on
// task (see Tasks) over the given MNIST test-set items. It is what an
// external evaluator process runs on a merged checkpoint.
func EvaluateFolder(dir, task string, items []int) (float64, error) {
	t, err := LookupTask(task)
	if err != nil {
		return 0, err
	}
	net, _, err := LoadNet(dir)
	if err != nil {
		return 0, err
	}
	test, err := TestSet()
	if err != nil {
		return 0, err
	}
	b, err := NewBatch(test, t, items)
	if err != nil {
		return 0, err
	}
	acc, err := net.Accuracy(b)
	if err != nil {
		return 0, fmt.Errorf("model %s: %w", dir, err)
	}
	return acc, nil
}
