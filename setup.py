"""Packaging: one import root. The repository's plugin and data folders install as
subpackages of ``bench`` (``detectors/`` -> ``bench.detectors``, ...), so the install adds
a single top-level name; the package list is computed, never kept by hand (namespace discovery, so data
folders such as challenges/data or bench/data/templates ship as package data without a warning)."""

from setuptools import find_namespace_packages, setup

FOLDERS = ("detectors", "generators", "challenges", "leaderboard")  # bench.SUBPACKAGE_FOLDERS

packages = ["bench", *(f"bench.{p}" for p in find_namespace_packages("bench", exclude=["*__pycache__*"]))]
package_dir = {"bench": "bench"}
for folder in FOLDERS:
    package_dir[f"bench.{folder}"] = folder
    inner = find_namespace_packages(folder, exclude=["*__pycache__*"])
    packages += [f"bench.{folder}", *(f"bench.{folder}.{p}" for p in inner)]

setup(packages=packages, package_dir=package_dir)
