"""The Florence-2 post-processing corpus FlorencePostProcessorTest and florence-post-check.mjs use.

    cd src/test/python && /usr/bin/python3 -m refmodels.florence_post_corpus
    bash ../node/peer-check.sh --florence-post --json "$PWD/../resources/fixtures/florence_post_tjs.json"

writes src/test/resources/fixtures/florence_post_corpus.json: the Florence-2 processor configuration
(the three task maps of preprocessor_config.json that transformers.js's Florence2Processor reads, as
in HuggingFace's Florence2Processor), hand-written generation cases (every task, edge cases named),
150 seeded random cases built from fragments (location tokens whole and broken, '<', '>', line
breaks, JavaScript-only whitespace, </s>, <pad>, surrogate pairs), and the prompt cases. The second
command records transformers.js 4.3.1's answers. Needs no third-party package.
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "resources", "fixtures", "florence_post_corpus.json"))


def L(*ns): return ''.join(f'<loc_{n}>' for n in ns)
B1 = L(52,334,932,774); B2 = L(0,0,999,999); B3 = L(500,500,501,502)
Q1 = L(10,20,300,22,301,80,11,78); Q2 = L(400,410,900,412,901,470,401,468)
cfg = {
 "tasks_answer_post_processing_type": {
  "<OCR>": "pure_text", "<OCR_WITH_REGION>": "ocr", "<CAPTION>": "pure_text", "<DETAILED_CAPTION>": "pure_text",
  "<MORE_DETAILED_CAPTION>": "pure_text", "<OD>": "description_with_bboxes", "<DENSE_REGION_CAPTION>": "description_with_bboxes",
  "<CAPTION_TO_PHRASE_GROUNDING>": "phrase_grounding", "<REFERRING_EXPRESSION_SEGMENTATION>": "polygons",
  "<REGION_TO_SEGMENTATION>": "polygons", "<OPEN_VOCABULARY_DETECTION>": "description_with_bboxes_or_polygons",
  "<REGION_TO_CATEGORY>": "pure_text", "<REGION_TO_DESCRIPTION>": "pure_text", "<REGION_TO_OCR>": "pure_text",
  "<REGION_PROPOSAL>": "bboxes"},
 "task_prompts_without_inputs": {
  "<OCR>": "What is the text in the image?", "<OCR_WITH_REGION>": "What is the text in the image, with regions?",
  "<CAPTION>": "What does the image describe?", "<DETAILED_CAPTION>": "Describe in detail what is shown in the image.",
  "<MORE_DETAILED_CAPTION>": "Describe with a paragraph what is shown in the image.",
  "<OD>": "Locate the objects with category name in the image.",
  "<DENSE_REGION_CAPTION>": "Locate the objects in the image, with their descriptions.",
  "<REGION_PROPOSAL>": "Locate the region proposals in the image."},
 "task_prompts_with_input": {
  "<CAPTION_TO_PHRASE_GROUNDING>": "Locate the phrases in the caption: {input}",
  "<REFERRING_EXPRESSION_SEGMENTATION>": "Locate {input} in the image with mask",
  "<REGION_TO_SEGMENTATION>": "What is the polygon mask of region {input}",
  "<OPEN_VOCABULARY_DETECTION>": "Locate {input} in the image.",
  "<REGION_TO_CATEGORY>": "What is the region {input}?",
  "<REGION_TO_DESCRIPTION>": "What does the region {input} describe?",
  "<REGION_TO_OCR>": "What text is in the region {input}?"}}
cases = []
def c(name, task, text, w=640, h=480): cases.append(dict(name=name, task=task, text=text, width=w, height=h))
# pure text
c("caption", "<CAPTION>", "</s><s>A cat sitting on a mat.</s>")
c("caption-pad-tail", "<CAPTION>", "</s><s>A dog.</s><pad><pad><pad>")
c("caption-empty", "<CAPTION>", "")
c("caption-only-eos", "<CAPTION>", "</s>")
c("caption-nested-bos-eos", "<CAPTION>", "<<s>/s>x<</s>s>y")
c("detailed-caption-spaces", "<DETAILED_CAPTION>", "<s>  two people walking  </s>", 1, 1)
c("more-detailed-multiline-unicode", "<MORE_DETAILED_CAPTION>", "</s><s>Un café ☕ à Paris.\nThe sign reads «Ouvert» 🐈.\r\nEnd</s>", 8192, 17)
c("ocr-text", "<OCR>", "</s><s>STOP\nONE WAY</s>")
c("ocr-text-keeps-locs", "<OCR>", "</s><s>EXIT" + B1 + "</s>")
c("region-to-category", "<REGION_TO_CATEGORY>", "</s><s>car<loc_10><loc_20><loc_30><loc_40></s>")
c("region-to-description", "<REGION_TO_DESCRIPTION>", "</s><s>a red car parked by the road</s>")
c("region-to-ocr", "<REGION_TO_OCR>", "</s><s>SALE 50%</s><pad>")
# OD and other box tasks
c("od-single", "<OD>", "</s><s>car" + B1 + "</s>")
c("od-multi", "<OD>", "</s><s>car" + B1 + "person" + B2 + "dog" + B3 + "</s>")
c("od-repeated-label", "<OD>", "</s><s>person" + B1 + B2 + "car" + B3 + B1 + "</s>")
c("od-no-labels", "<OD>", "</s><s>" + B1 + B2 + "</s>")
c("od-label-spaces", "<OD>", "</s><s>  traffic light  " + B1 + " stop sign" + B2 + "</s>")
c("od-label-unicode", "<OD>", "</s><s>café ☕" + B1 + "🐈 chat noir" + B2 + "日本語" + B3 + "</s>")
c("od-label-js-whitespace", "<OD>", "\u00a0cat\ufeff" + B1 + "\u2007dog\u202f" + B2 + "\u3000bird\u205f" + B3)
c("od-label-not-js-whitespace", "<OD>", "\u001fcat\u001c" + B1 + "\u180edog\u180e" + B2 + "\u200bbird\u200b" + B3)
c("od-whitespace-only-label", "<OD>", "cat" + B1 + "   " + B2 + B3)
c("od-three-locs", "<OD>", "car<loc_1><loc_2><loc_3></s>")
c("od-five-locs", "<OD>", "cat<loc_1><loc_2><loc_3><loc_4><loc_5>dog" + B2)
c("od-five-locs-then-box", "<OD>", "cat<loc_1><loc_2><loc_3><loc_4><loc_5>" + B2)
c("od-seven-locs", "<OD>", "cat" + L(1,2,3,4,5,6,7) + "dog" + B3)
c("od-eight-locs", "<OD>", "cat" + L(1,2,3,4,5,6,7,8))
c("od-loc-extremes", "<OD>", "a" + L(0,0,999,999) + "b" + L(1000,1000,1000,1000) + "c" + L(123456,0,1,123456), 768, 768)
c("od-leading-zeros", "<OD>", "a" + L("0007", "000", "0999", "00000000000000000000000001"))
c("od-long-digits", "<OD>", "a" + L("12345678901234567", "98765432109876543210123", "9007199254740993", "1" + "0" * 40))
c("od-305-digits", "<OD>", "a" + L("9" * 305, 1, 2, 3), 1, 1)
c("od-309-digits-finite", "<OD>", "a" + L("1" + "0" * 308, 1, 2, 3))
c("od-310-digits-infinite", "<OD>", "a" + L("1" + "0" * 309, 1, 2, 3))
c("od-finite-bin-infinite-coordinate", "<OD>", "a" + L(1, "1" + "0" * 308, 2, 3), 8192, 8192)
c("od-text-around", "<OD>", "</s><s>The image shows car" + B1 + " and then some trailing words</s>")
c("od-lt-in-label", "<OD>", "a<b car" + B1 + "x > y" + B2)
c("od-pad-before-label", "<OD>", "<pad>dog" + B1 + "<pad><pad>")
c("od-eos-in-label", "<OD>", "ca</s>t" + B1)
c("od-malformed-tokens", "<OD>", "a<loc_><loc_1><loc_2><loc_3><loc_4>b<loc_12<loc_1><loc_2><loc_3><loc_4>c<loc_ 1><LOC_1><loc_-5><loc_1.5>" + B3)
c("od-newline-label", "<OD>", "cat\ndog" + B1 + "\r\nbird\u2028" + B2)
c("od-fullwidth-digits", "<OD>", "a<loc_１２><loc_1><loc_2><loc_3><loc_4>" + "b<loc_٣><loc_1><loc_2><loc_3><loc_4>")
c("od-size-1x1", "<OD>", "car" + B1 + "dog" + B2, 1, 1)
c("od-size-8192x17", "<OD>", "car" + B1 + "dog" + B2, 8192, 17)
c("od-size-17x8192", "<OD>", "car" + B1 + "dog" + B2, 17, 8192)
c("od-size-1x10000", "<OD>", "car" + B3, 1, 10000)
c("od-empty", "<OD>", "")
c("od-only-text", "<OD>", "</s><s>nothing detected here</s>")
c("dense-region-caption", "<DENSE_REGION_CAPTION>", "</s><s>a black cat sleeping" + B1 + "a wooden table" + B2 + "</s>", 1024, 768)
c("region-proposal", "<REGION_PROPOSAL>", "</s><s>" + B1 + B2 + B3 + "</s>", 500, 375)
c("phrase-grounding", "<CAPTION_TO_PHRASE_GROUNDING>", "</s><s>a green car" + B1 + "a man" + B2 + B3 + "</s>", 1280, 720)
c("phrase-grounding-empty", "<CAPTION_TO_PHRASE_GROUNDING>", "</s><s></s>")
c("phrase-grounding-odd-size", "<CAPTION_TO_PHRASE_GROUNDING>", "the sky" + L(3, 7, 996, 411), 333, 777)
# OCR with region
c("ocr-region", "<OCR_WITH_REGION>", "</s><s>STOP" + Q1 + "ONE WAY" + Q2 + "</s>", 800, 600)
c("ocr-region-no-leading-label", "<OCR_WITH_REGION>", Q1 + "B" + Q2)
c("ocr-region-adjacent", "<OCR_WITH_REGION>", "A" + Q1 + Q2)
c("ocr-region-seventeen-locs", "<OCR_WITH_REGION>", "A" + Q1 + "<loc_9>" + Q2)
c("ocr-region-nine-locs", "<OCR_WITH_REGION>", "A" + Q1 + "<loc_9>")
c("ocr-region-seven-locs", "<OCR_WITH_REGION>", "A" + L(1,2,3,4,5,6,7) + "B")
c("ocr-region-newline", "<OCR_WITH_REGION>", "line one\nline two" + Q1 + "\r\n" + Q2 + "x\u2028y" + Q1)
c("ocr-region-crlf-label", "<OCR_WITH_REGION>", "first\r\n  second  " + Q1 + "\u2029third" + Q2)
c("ocr-region-lt-in-label", "<OCR_WITH_REGION>", "<pad>a<b" + Q1 + "</s>")
c("ocr-region-unicode", "<OCR_WITH_REGION>", "  Ünïcødé 🐈  " + Q1 + "\u00a0中文\ufeff" + Q2, 8192, 17)
c("ocr-region-extremes", "<OCR_WITH_REGION>", "x" + L(0, 999, 1000, 123456, 0, 0, 999, "0001"), 1, 1)
c("ocr-region-label-with-box-tokens", "<OCR_WITH_REGION>", "a" + B1 + "b" + Q2)
c("ocr-region-whitespace-label", "<OCR_WITH_REGION>", "   " + Q1)
c("ocr-region-empty", "<OCR_WITH_REGION>", "")
c("ocr-region-infinite", "<OCR_WITH_REGION>", "a" + L(1, 2, 3, 4, 5, 6, 7, "9" * 320))
# tasks transformers.js does not implement, and an unknown task
c("referring-segmentation", "<REFERRING_EXPRESSION_SEGMENTATION>", "</s><s>" + L(1,2,3,4,5,6) + "</s>")
c("region-to-segmentation", "<REGION_TO_SEGMENTATION>", "</s><s><poly>" + L(1,2,3,4,5,6) + "</poly></s>")
c("open-vocabulary-detection", "<OPEN_VOCABULARY_DETECTION>", "</s><s>watermark" + B1 + "</s>")
c("unknown-task", "<NOT_A_TASK>", "</s><s>car" + B1 + "</s>")

# seeded random cases: fragments that make, break and straddle regions
rng = random.Random(20261202)
FRAGMENTS = ["<loc_", "<loc_5>", "<loc_999>", "<loc_1000>", "<loc_0>", "<loc_0042>", "12", ">", "<", "a", "car", " ",
             "  ", "\n", "\r\n", "\u2028", "\u00a0", "\ufeff", "\u001f", "</s>", "<s>", "<pad>", "\u00e9",
             "\U0001f408", "<loc_12", "loc_3>", "<LOC_1>", "x y", "<</s>s>", "\t"]
SIDES = [1, 2, 17, 333, 640, 768, 1024, 8192]
TASKS = ["<OD>", "<REGION_PROPOSAL>", "<CAPTION_TO_PHRASE_GROUNDING>", "<DENSE_REGION_CAPTION>",
         "<OCR_WITH_REGION>", "<OCR_WITH_REGION>", "<CAPTION>"]
for k in range(150):
  parts = []
  for _ in range(rng.randint(1, 24)):
    r = rng.random()
    if r < 0.12:
      parts.append(L(*[rng.randint(0, 1100) for _ in range(4)]))
    elif r < 0.2:
      parts.append(L(*[rng.randint(0, 1100) for _ in range(8)]))
    else:
      parts.append(rng.choice(FRAGMENTS))
  c(f"random-{k:03d}", rng.choice(TASKS), "".join(parts), rng.choice(SIDES), rng.choice(SIDES))

prompts = []
def pr(name, task, input=None, deviation=None):
  d = dict(name=name, task=task, input=input)
  if deviation: d["deviation"] = deviation
  prompts.append(d)
for t in cfg["task_prompts_without_inputs"]: pr("fixed " + t, t)
for t in cfg["task_prompts_with_input"]:
  pr("input " + t, t, "a cat and a dog")
  pr("empty input " + t, t, "")
pr("grounding unicode", "<CAPTION_TO_PHRASE_GROUNDING>", "Un café ☕ et un chat 🐈")
pr("grounding loc-like text", "<CAPTION_TO_PHRASE_GROUNDING>", "the <loc_5> box and </s> and <OD>")
pr("region loc tokens", "<REGION_TO_CATEGORY>", L(52,334,932,774))
pr("grounding placeholder text", "<CAPTION_TO_PHRASE_GROUNDING>", "literal {input} here")
pr("grounding leading space", "<CAPTION_TO_PHRASE_GROUNDING>", "  padded  ")
pr("grounding dollar pattern", "<CAPTION_TO_PHRASE_GROUNDING>", "costs $& or $$ or $' or $`",
   "transformers.js's String.replaceAll expands $-patterns of the user text; vlm4j inserts it verbatim")
pr("grounding own task token in input", "<CAPTION_TO_PHRASE_GROUNDING>", "a <CAPTION_TO_PHRASE_GROUNDING> b",
   "transformers.js removes every occurrence of the task token, also the user's; vlm4j inserts the input verbatim")
pr("region-to-ocr input naming an earlier task", "<REGION_TO_OCR>", "<CAPTION_TO_PHRASE_GROUNDING>",
   "transformers.js finds the first with-input task token the text contains, here the user's, and builds that task's prompt")
pr("caption with input", "<CAPTION>", "extra words",
   "transformers.js sends '<CAPTION>extra words' to the model unchanged; vlm4j rejects input for a task that takes none (INVALID_PROMPT), as HuggingFace Python does")
doc = {"about": "Florence-2 post-processing corpus: FlorencePostProcessorTest holds the Java parser to transformers.js 4.3.1's "
  "Florence2Processor on every case (its results: florence_post_tjs.json, written by src/test/node/florence-post-check.mjs). "
  "processor_config is the Florence-2 processor configuration (preprocessor_config.json's three task maps) the node script "
  "hands to Florence2Processor (regenerate: src/test/python/refmodels/florence_post_corpus.py). width/height: the image size in pixels. A prompt case with 'deviation' is one where vlm4j "
  "knowingly differs (the reason is given).",
  "processor_config": cfg, "cases": cases, "prompts": prompts}
assert len(set(x["name"] for x in cases)) == len(cases) and len(set(x["name"] for x in prompts)) == len(prompts)
with open(OUT, "w", encoding="utf-8") as f:
  json.dump(doc, f, ensure_ascii=False, indent=1)
  f.write("\n")
print(len(cases), len(prompts))
