"""File names inside a signals model folder (shared by training, loading and tests)."""

LABELS_FILE = "labels.json"  # heads and label order, max length, pooling
HEADS_FILE = "heads.safetensors"  # the transformer's classification heads
ENCODER_DIR = "encoder"  # save_pretrained encoder
TOKENIZER_DIR = "tokenizer"  # save_pretrained tokenizer
LINEAR_FILE = "linear"  # linear.json + linear.npz: the linear baseline
SENTIMENT_LINEAR_FILE = "sentiment_linear"  # optional sentiment baseline
JOINT_LINEAR_FILE = "frustration_joint_linear"  # frustration head trained with the public tweets
STACK_FILE = "frustration_stack.json"  # the calibrated stack (bot/signals/calibration.py)
SELECTION_FILE = "selection.json"  # per head: transformer, linear or average
TRAINING_FILE = "training.json"  # what training did (the model card's facts)
CARD_FILE = "model_card.md"
