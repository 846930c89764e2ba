set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/regularization/plots/gap_vs_training_accuracy.png.tmp'
set title 'train-test gap against training accuracy (fit curves, mean over seeds per epoch)'
set xlabel 'training accuracy, eval mode (%)'
set ylabel 'training minus test accuracy (points)'
set key top left
set grid
plot 'results/claims/regularization/plots/gap_vs_training_accuracy.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'gn', \
     '' index 3 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 4 notitle, '' index 3 using 1:2 with lines lw 2 lc 4 title 'none + dropout 0.5', \
     '' index 4 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 5 notitle, '' index 4 using 1:2 with lines lw 2 lc 5 title 'bn + dropout 0.5', \
     '' index 5 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 6 notitle, '' index 5 using 1:2 with lines lw 2 lc 6 title 'gn + dropout 0.5', \
     '' index 6 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 7 notitle, '' index 6 using 1:2 with lines lw 2 lc 7 title 'bn, batch 512'
