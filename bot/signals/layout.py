"""File names inside a signals model folder (shared by training, loading and tests)."""

LABELS_FILE = "labels.json"  # heads and label order, max length, pooling
HEADS_FILE = "heads.safetensors"  # the transformer's classification heads
ENCODER_DIR = "encoder"  # save_pretrained encoder
TOKENIZER_DIR = "tokenizer"  # save_pretrained tokenizer
LINEAR_FILE = "linear"  # linear.json + linear.npz: the linear baseline
SENTIMENT_LINEAR_FILE = "sentiment_linear"  # optional sentiment baseline
SELECTION_FILE = "selection.json"  # per head: transformer, linear or average
TRAINING_FILE = "training.json"  # what training did (the model card's facts)
CARD_FILE = "model_card.md"
