"""Rendering deploy files from templates/: one Jinja environment (StrictUndefined), view models computed in
Python, templates that only lay values out."""

from nfldeploy.render.environment import render_template, templates_dir

__all__ = ["render_template", "templates_dir"]
