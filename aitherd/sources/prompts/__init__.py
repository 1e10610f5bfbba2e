"""Prompt templates of the augmentation strategies (override with prompts_dir)."""
