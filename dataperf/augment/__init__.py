"""Training-data augmentation: dataset/loader wrappers and text ops."""
