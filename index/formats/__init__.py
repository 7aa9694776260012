"""One reader per article file format; index.loaders picks among them by file suffix.

text: reading a file as text, and the helpers the readers share
seed: plain text and the seed format (`date YYYY-MM-DD Title`, then the body)
jsonl: JSON Lines and JSON files of article records
html: saved web pages (trafilatura)
feed: RSS 2.0 and Atom feeds (feedparser)

Each reader takes a path and yields Articles or raises ArticleError naming the file and the
problem. Readers import only `text` among themselves, so none of them imports another.
"""
