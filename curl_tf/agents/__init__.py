"""The agents CURL plugs into, one folder each (SAC for DeepMind Control)."""
