"""Where projects come from: the local project store now, GitLab later."""
