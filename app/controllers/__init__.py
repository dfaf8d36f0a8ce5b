"""Small controllers between the window and core: the bound, the files worker, exports. No widgets inside."""
