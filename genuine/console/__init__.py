"""The moderator console: review queue, account evidence, decisions, appeals and audit in a web page.

A presentation layer over the enforcement stage: every decision goes through the import path of
`genuine review import` / `genuine appeal import` (genuine.jobs.review), every audit page is
`genuine audit explain` (genuine.jobs.audit). docs/console.md.
"""
