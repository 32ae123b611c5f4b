"""CURL in Data-Efficient Rainbow for Atari100k: networks.py and agent.py."""
